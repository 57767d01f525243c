"""The contracts boards, the virtual core and the actions share: the result line, the firmware bundle, the
`virt` image. Below all three; imports nothing of boards, virtcore or actions."""
