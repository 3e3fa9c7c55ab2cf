"""Small helpers shared by the modules."""


def exists(value) -> bool:
    return value is not None


def default(value, fallback):
    return value if exists(value) else fallback
