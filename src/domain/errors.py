"""Errors raised by the domain when an invariant would be broken."""


class DomainError(ValueError):
    """A request that breaks a domain invariant; the message names the offending value."""
