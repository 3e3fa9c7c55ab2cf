class UserError(Exception):
    """Something the user can fix; the message is shown to them as it is."""
