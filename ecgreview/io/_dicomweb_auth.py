"""The DICOMweb client's credentials: which combinations the settings may give, and a bearer token that
never shows in a repr (a part of :mod:`ecgreview.io.dicomweb`)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ecgreview.config import Settings
from ecgreview.errors import ConfigError

if TYPE_CHECKING:
    import requests

__all__ = ["BearerToken", "check_credentials"]


def check_credentials(settings: Settings, *, https: bool, host: str) -> None:
    """ConfigError naming the setting: half a user/password pair, a token and a user, or credentials over
    plain HTTP to another machine."""
    user, password, token = settings.dicomweb_user, settings.dicomweb_password, settings.dicomweb_token
    if bool(user) != bool(password):
        raise ConfigError("ECGREVIEW_DICOMWEB_USER",
                          "set both ECGREVIEW_DICOMWEB_USER and ECGREVIEW_DICOMWEB_PASSWORD, or neither")
    if user and token:
        raise ConfigError("ECGREVIEW_DICOMWEB_TOKEN", "set a token or a user and password, not both")
    if (user or token) and not https and not _is_loopback(host):
        raise ConfigError("ECGREVIEW_DICOMWEB_URL", "credentials are sent only over https:// (or to this machine); "
                                                    "the address is http://")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BearerToken:
    """``Authorization: Bearer <token>`` on each request (a requests auth callable); its repr hides the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"
