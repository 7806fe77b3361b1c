"""The typed Durable boundaries: each orchestration's start input and each activity's request.

The Durable SDK carries JSON-able dicts; these types are built by the code that starts an orchestration or
calls an activity (``to_dict``) and read back on the first line of the receiving function (``from_dict``,
InvalidInput naming each bad field). Their wire keys are interfaces: running instances and stored history
carry them, so they never change.
"""
