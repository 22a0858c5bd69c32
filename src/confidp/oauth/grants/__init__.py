"""The grants of the token endpoint (RFC 6749 §4.1.3, §6, §4.4). Each validates the request
against the stored grant and the current tenant, then asks the TokenService to issue."""
