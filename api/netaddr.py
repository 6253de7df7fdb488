"""Which addresses are this machine's own."""

import ipaddress


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost"; anything else (a name, 0.0.0.0, a LAN address) is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
