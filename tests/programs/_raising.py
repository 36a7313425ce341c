"""An exception chain three links deep, raised the same way in-process (tests/test_exc.py)
and in a child program (fidelity.py): a raise-from inside an implicit context."""


def three_levels() -> None:
    try:
        try:
            raise KeyError("db row")
        except KeyError as exc:
            raise LookupError("cache miss") from exc
    except LookupError:
        raise RuntimeError("request failed")  # noqa: B904 - an implicit context on purpose
