import pytest

from daemon.pipeline import expr


def ctx(**values):
    return expr.Context(values)


def test_paths_and_literals_evaluate():
    c = ctx(model={"name": "kws.tflite", "size": 10}, steps={"a": {"outputs": {"x": "42"}}})
    assert expr.render("${{ model.name }}", c) == "kws.tflite"
    assert expr.render("size=${{ model.size }} x=${{ steps.a.outputs.x }}", c) == "size=10 x=42"
    assert expr.render("${{ steps.a.outputs.x == 42 }}", c) is True
    assert expr.render("${{ 'a' != 'A' }}", c) is False  # case-insensitive, as in Actions


def test_boolean_operators_and_functions():
    c = expr.Context({}, status=lambda name: name == "failure")
    assert expr.evaluate(expr.parse("failure() && !success()"), c) is True
    assert expr.evaluate(expr.parse("success() || 'fallback'"), c) == "fallback"
    assert expr.evaluate(expr.parse("(always() || failure()) && true"), c) is True


def test_a_whole_expression_keeps_its_type():
    c = ctx(boards={"esp32c3": ["a", "b"]})
    assert expr.render("${{ boards.esp32c3 }}", c) == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("secrets.TOKEN", "unknown context 'secrets'"),
        ("model.owner", "model has no field 'owner'"),
        ("steps.a.result", "steps.<id>.outputs.<name>"),
        ("contains('a', 'b')", "cannot read expression"),
        ("toJSON()", "unknown function toJSON()"),
        ("model.name ==", "expected more"),
        ("run", "not a complete reference"),
    ],
)
def test_unsupported_expressions_are_rejected(text, message):
    with pytest.raises(expr.ExprError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expr.parse(text)
