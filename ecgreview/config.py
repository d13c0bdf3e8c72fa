"""Settings: the one place that reads the environment and the configuration file.

Resolution order for every setting: environment variable, then the TOML
configuration file, then the default.

==========================  =====================  ===========================================
environment variable        config file key        default
==========================  =====================  ===========================================
``ECGREVIEW_CONFIG``        --                     ``$ECGREVIEW_HOME/config.toml``
``ECGREVIEW_HOME``          --                     ``~/.local/share/ecgreview``
``ECGREVIEW_MODEL``         ``model``              first verified ``*.hdf5`` in the models folder
``ECGREVIEW_MODELS_DIR``    ``models_dir``         ``$ECGREVIEW_HOME/models``
``ECGREVIEW_REVIEWS``       ``reviews``            ``$ECGREVIEW_HOME/reviews.csv``
``ECGREVIEW_CASES``         ``cases``              the bundled demo cases (``ecgreview/data/demo_cases``)
``ECGREVIEW_BACKEND``       ``backend``            ``auto`` (ONNX Runtime when installed, else TensorFlow)
``ECGREVIEW_AUTH``          ``auth``               ``name`` (typed reader name); ``local``, ``proxy``, ``oidc``
``ECGREVIEW_USERS``         ``users``              ``$ECGREVIEW_HOME/users.csv`` (users and their roles)
``ECGREVIEW_PROXY_HEADER``  ``proxy_header``       ``X-Remote-User`` (``proxy`` mode: the user name)
``ECGREVIEW_THRESHOLDS``    ``thresholds``         the paper's (``record.THRESHOLDS``); six numbers, ``CLASSES`` order
``ECGREVIEW_SCREEN_PX_PER_MM`` ``screen_px_per_mm``  unset: 96/25.4 (CSS's reference pixel); the screen's
                                                   pixels (CSS px) per mm, for the ECG at true size
``ECGREVIEW_PROXY_SECRET``  ``proxy_secret``       unset; ``proxy`` mode: the secret the proxy sends in
                                                   ``X-Ecgreview-Proxy-Secret`` on every request
``ECGREVIEW_PROXY_SOURCES`` ``proxy_sources``      unset; ``proxy`` mode: the proxy's addresses (IPs or
                                                   networks, comma-separated)
``ECGREVIEW_UPLOAD_PHI``    ``upload_phi``         ``refuse``: an upload with PHI is not kept;
                                                   ``deidentify``: a de-identified DICOM copy is kept
``ECGREVIEW_SIGNIN_FREE``   ``signin_free``        ``5`` failed sign-ins (per account or client) before
                                                   the back-off starts (1 s, doubling)
``ECGREVIEW_SIGNIN_MAX_DELAY_S`` ``signin_max_delay_s``  ``60``: the back-off's cap, in seconds
``ECGREVIEW_SIGNIN_LOCKOUT``  ``signin_lockout``   ``10`` failed sign-ins in a row lock an account
                                                   (``python -m ecgreview users unlock NAME``)
``ECGREVIEW_SIGNIN_CONCURRENCY`` ``signin_concurrency``  ``2`` password checks (argon2, 64 MiB each) at once
``ECGREVIEW_DICOMWEB_URL``  ``dicomweb_url``       unset; a DICOMweb server (research PACS) whose ECGs the
                                                   worklist lists beside the case folder's (:mod:`ecgreview.io.dicomweb`)
``ECGREVIEW_DICOMWEB_USER``  ``dicomweb_user``      unset; HTTP basic credentials for it, with
``ECGREVIEW_DICOMWEB_PASSWORD`` ``dicomweb_password``  ``ECGREVIEW_DICOMWEB_PASSWORD`` (never logged)
``ECGREVIEW_DICOMWEB_TOKEN`` ``dicomweb_token``    unset; a bearer token instead (never logged)
``ECGREVIEW_DICOMWEB_CA_BUNDLE`` ``dicomweb_ca_bundle``  unset: the system's CAs; a PEM file of CAs to trust
                                                   (TLS certificates are always verified)
``ECGREVIEW_SERIAL_LINK``   ``serial_link``        ``patient-id``: prior ECGs are linked by patient id (WFDB
                                                   records never); ``record-prefix:<regex>``: WFDB records also,
                                                   by the regex's group in the record name
                                                   (:func:`ecgreview.review.serial.link_key`)
==========================  =====================  ===========================================

``name`` mode trusts a typed name and is for one workstation: the app refuses to serve it on an
address other than loopback. In ``proxy`` mode roles come from the user file, or from the header
named by ``ECGREVIEW_PROXY_ROLES_HEADER`` (config key ``proxy_roles_header``; unset by default) when
the site sets one. The proxy must set the user header (and that roles header) and strip any copy a
client sends (docs/deployment.md), and prove itself on every request: with the shared secret
(``ECGREVIEW_PROXY_SECRET``), by its source address (``ECGREVIEW_PROXY_SOURCES``), or both; the app
refuses to serve ``proxy`` mode with neither (:func:`proxy_boundary_problem`).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgreview.errors import ConfigError
from ecgreview.examples import DEMO_CASES_DIR
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.serial_link import DEFAULT_LINK_RULE, parse_link_rule

_KEYS = {"model", "models_dir", "reviews", "cases", "backend", "auth", "users", "proxy_header", "proxy_roles_header",
         "thresholds", "proxy_secret", "proxy_sources", "upload_phi", "signin_free", "signin_max_delay_s",
         "signin_lockout", "signin_concurrency"}
_KEYS |= {"screen_px_per_mm"}  # the ECG at true size (ecgreview.ui.viewer)
_KEYS |= {"serial_link"}  # the serial comparison's linking rule (ecgreview.review.serial)
#: The DICOMweb case source's keys (``ECGREVIEW_DICOMWEB_*``; :mod:`ecgreview.io.dicomweb`).
_DICOMWEB_KEYS = {"dicomweb_url", "dicomweb_user", "dicomweb_password", "dicomweb_token", "dicomweb_ca_bundle"}
_KEYS |= _DICOMWEB_KEYS

#: How readers are identified: a typed name, the local user file, a trusted proxy header, OIDC.
AUTH_MODES = ("name", "local", "proxy", "oidc")
#: What happens to an upload whose PHI audit finds identifying data (or that cannot be audited).
UPLOAD_PHI_POLICIES = ("refuse", "deidentify")
_MIN_PROXY_SECRET = 16


@dataclass(frozen=True)
class Settings:
    """Where ecgreview finds its model, cases and review store."""

    home: Path
    models_dir: Path
    reviews_path: Path
    model_path: Path | None = None
    cases_dir: Path | None = None
    backend: str = "auto"
    auth_mode: str = "name"
    users_path: Path | None = None
    proxy_header: str = "X-Remote-User"
    #: Header holding the roles (``proxy`` mode); None: roles come from the user file.
    proxy_roles_header: str | None = None
    #: Site decision thresholds for the DNN calls (:func:`ecgreview.record.dnn_calls`).
    thresholds: tuple[float, ...] = THRESHOLDS
    #: Screen pixels (CSS px) per mm: the ECG at true size (1 mm on paper = 1 mm on screen). None:
    #: not calibrated (the viewer uses CSS's 96 px per inch, true size only on a ~96 dpi screen).
    screen_px_per_mm: float | None = None
    #: ``proxy`` mode: the secret the proxy sends in ``X-Ecgreview-Proxy-Secret`` (never printed).
    proxy_secret: str | None = field(default=None, repr=False)
    #: ``proxy`` mode: the networks the proxy connects from (empty: not checked).
    proxy_sources: tuple[str, ...] = ()
    #: An upload with PHI: ``refuse`` (not kept) or ``deidentify`` (a de-identified DICOM copy kept).
    upload_phi: str = "refuse"
    #: Failed sign-ins (per account or client) before the back-off starts.
    signin_free: int = 5
    #: The back-off's cap, in seconds.
    signin_max_delay_s: float = 60.0
    #: Failed sign-ins in a row that lock an account until an admin unlocks it.
    signin_lockout: int = 10
    #: Password verifications (argon2, 64 MiB each) allowed at once in the server process.
    signin_concurrency: int = 2
    #: A DICOMweb server (research PACS) whose ECG instances the worklist lists (None: none).
    dicomweb_url: str | None = None
    #: HTTP basic credentials for ``dicomweb_url`` (never printed).
    dicomweb_user: str | None = field(default=None, repr=False)
    dicomweb_password: str | None = field(default=None, repr=False)
    #: A bearer token for ``dicomweb_url`` instead of user and password (never printed).
    dicomweb_token: str | None = field(default=None, repr=False)
    #: CA certificates (PEM) to verify the server's TLS certificate with (None: the system's).
    dicomweb_ca_bundle: Path | None = None
    #: How prior ECGs are linked to a patient (:func:`ecgreview.review.serial.link_key`): ``patient-id`` or
    #: ``record-prefix:<regex>``.
    serial_link: str = "patient-id"

    @property
    def user_file(self) -> Path:
        """The local user file: ``users_path`` (``ECGREVIEW_USERS``), else ``users.csv`` in the home folder."""
        return self.users_path if self.users_path is not None else self.home / "users.csv"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from ``ECGREVIEW_*`` variables and the config file."""
        env = os.environ if environ is None else environ
        home = Path(env.get("ECGREVIEW_HOME") or Path.home() / ".local" / "share" / "ecgreview")
        config_path = Path(env.get("ECGREVIEW_CONFIG") or home / "config.toml")
        file_values = _read_config_file(config_path)

        def pick(variable: str, key: str) -> str | None:
            return env.get(variable) or file_values.get(key) or None

        models_dir = Path(pick("ECGREVIEW_MODELS_DIR", "models_dir") or home / "models")
        model = pick("ECGREVIEW_MODEL", "model")
        cases = pick("ECGREVIEW_CASES", "cases")
        auth_mode = pick("ECGREVIEW_AUTH", "auth") or "name"
        if auth_mode not in AUTH_MODES:
            raise ConfigError("ECGREVIEW_AUTH", f"auth must be one of {', '.join(AUTH_MODES)}, got {auth_mode!r}")
        return cls(
            home=home,
            models_dir=models_dir,
            reviews_path=Path(pick("ECGREVIEW_REVIEWS", "reviews") or home / "reviews.csv"),
            model_path=Path(model) if model else None,
            cases_dir=Path(cases) if cases else DEMO_CASES_DIR,
            backend=pick("ECGREVIEW_BACKEND", "backend") or "auto",
            auth_mode=auth_mode,
            users_path=Path(pick("ECGREVIEW_USERS", "users") or home / "users.csv"),  # see user_file
            proxy_header=pick("ECGREVIEW_PROXY_HEADER", "proxy_header") or "X-Remote-User",
            proxy_roles_header=pick("ECGREVIEW_PROXY_ROLES_HEADER", "proxy_roles_header"),
            thresholds=parse_thresholds(pick("ECGREVIEW_THRESHOLDS", "thresholds"), source=(
                "ECGREVIEW_THRESHOLDS" if env.get("ECGREVIEW_THRESHOLDS") else str(config_path))),
            screen_px_per_mm=parse_screen_px_per_mm(pick("ECGREVIEW_SCREEN_PX_PER_MM", "screen_px_per_mm")),
            **_security_values(pick),
            **_dicomweb_values(pick),
            serial_link=parse_serial_link(pick("ECGREVIEW_SERIAL_LINK", "serial_link"), source=(
                "ECGREVIEW_SERIAL_LINK" if env.get("ECGREVIEW_SERIAL_LINK") else str(config_path))),
        )


def _dicomweb_values(pick: Callable[[str, str], str | None]) -> dict[str, Any]:
    """The DICOMweb source's settings as given (checked where the client is built: :mod:`ecgreview.io.dicomweb`)."""
    ca_bundle = pick("ECGREVIEW_DICOMWEB_CA_BUNDLE", "dicomweb_ca_bundle")
    return {
        "dicomweb_url": pick("ECGREVIEW_DICOMWEB_URL", "dicomweb_url"),
        "dicomweb_user": pick("ECGREVIEW_DICOMWEB_USER", "dicomweb_user"),
        "dicomweb_password": pick("ECGREVIEW_DICOMWEB_PASSWORD", "dicomweb_password"),
        "dicomweb_token": pick("ECGREVIEW_DICOMWEB_TOKEN", "dicomweb_token"),
        "dicomweb_ca_bundle": Path(ca_bundle) if ca_bundle else None,
    }


def _security_values(pick: Callable[[str, str], str | None]) -> dict[str, Any]:
    """The proxy boundary, upload PHI policy and sign-in limits, checked (``pick(variable, key)`` reads one)."""
    upload_phi = pick("ECGREVIEW_UPLOAD_PHI", "upload_phi") or "refuse"
    if upload_phi not in UPLOAD_PHI_POLICIES:
        raise ConfigError("ECGREVIEW_UPLOAD_PHI",
                          f"upload_phi must be one of {', '.join(UPLOAD_PHI_POLICIES)}, got {upload_phi!r}")
    secret = pick("ECGREVIEW_PROXY_SECRET", "proxy_secret")
    if secret is not None and len(secret) < _MIN_PROXY_SECRET:
        raise ConfigError("ECGREVIEW_PROXY_SECRET", f"the proxy secret must have at least {_MIN_PROXY_SECRET} "
                                                    "characters (e.g. `openssl rand -hex 32`)")

    def number(variable: str, key: str, default: float, low: float) -> float:
        text = pick(variable, key)
        try:
            value = default if text is None else float(text)
        except ValueError:
            value = float("nan")
        if not low <= value < float("inf") or (isinstance(default, int) and value != int(value)):
            kind = "a whole number" if isinstance(default, int) else "a number"
            raise ConfigError(variable, f"{key} must be {kind} >= {low:g}; got {text!r}")
        return value

    return {
        "proxy_secret": secret,
        "proxy_sources": parse_networks(pick("ECGREVIEW_PROXY_SOURCES", "proxy_sources")),
        "upload_phi": upload_phi,
        "signin_free": int(number("ECGREVIEW_SIGNIN_FREE", "signin_free", 5, 1)),
        "signin_max_delay_s": number("ECGREVIEW_SIGNIN_MAX_DELAY_S", "signin_max_delay_s", 60.0, 1.0),
        "signin_lockout": int(number("ECGREVIEW_SIGNIN_LOCKOUT", "signin_lockout", 10, 1)),
        "signin_concurrency": int(number("ECGREVIEW_SIGNIN_CONCURRENCY", "signin_concurrency", 2, 1)),
    }


def proxy_boundary_problem(settings: Settings) -> str | None:
    """Why ``proxy`` mode cannot be served safely with ``settings`` (no secret and no source list), or None."""
    if settings.auth_mode != "proxy" or settings.proxy_secret or settings.proxy_sources:
        return None
    return ("ECGREVIEW_AUTH=proxy trusts the user header only from the proxy: set ECGREVIEW_PROXY_SECRET (a secret "
            "the proxy sends in X-Ecgreview-Proxy-Secret) and/or ECGREVIEW_PROXY_SOURCES (the proxy's addresses); "
            "see docs/deployment.md")


def parse_networks(text: str | None, *, source: str = "ECGREVIEW_PROXY_SOURCES") -> tuple[str, ...]:
    """Addresses or networks (``10.0.0.2``, ``172.18.0.0/16``, ``::1``), comma- or space-separated, normalised.

    Raises
    ------
    ConfigError
        An entry that is not an IP address or network; names ``source``.
    """
    networks = []
    for part in (text or "").replace(",", " ").split():
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError as exc:
            raise ConfigError(source, f"proxy_sources must be IP addresses or networks; got {part!r}") from exc
    return tuple(networks)


def runtime_environment(environ: Mapping[str, str] | None = None) -> str:
    """How the app is deployed, for provenance: ``ECGREVIEW_RUNTIME`` (the Dockerfile sets
    ``docker``), else ``container`` when ``/.dockerenv`` exists, else ``host``."""
    env = os.environ if environ is None else environ
    if env.get("ECGREVIEW_RUNTIME"):
        return env["ECGREVIEW_RUNTIME"]
    return "container" if Path("/.dockerenv").exists() else "host"


def _read_config_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, f"cannot read configuration file: {exc}") from exc
    unknown = set(values) - _KEYS
    if unknown:
        raise ConfigError(path, f"unknown setting(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    bad = [key for key, value in values.items() if not isinstance(value, str)]
    if bad:
        raise ConfigError(path, f"setting(s) {bad} must be strings (paths)")
    return {key: os.path.expanduser(value) for key, value in values.items()}


def parse_serial_link(text: str | None, *, source: str = "ECGREVIEW_SERIAL_LINK") -> str:
    """The serial comparison's linking rule (:func:`ecgreview.review.serial.parse_link_rule`); ``patient-id``
    when unset or blank.

    Raises
    ------
    ConfigError
        Not ``patient-id`` or ``record-prefix:<regex>`` with a regex that compiles and has a group; names
        ``source`` and the setting.
    """
    if text is None or not text.strip():
        return DEFAULT_LINK_RULE
    try:
        parse_link_rule(text.strip())
    except ValueError as exc:
        raise ConfigError(source, f"serial_link: {exc}") from exc
    return text.strip()


#: Plausible screen pixels per mm: 1 (25 dpi) to 40 (1000 dpi).
_SCREEN_PX_PER_MM_RANGE = (1.0, 40.0)


def parse_screen_px_per_mm(text: str | None, *, source: str = "ECGREVIEW_SCREEN_PX_PER_MM") -> float | None:
    """The screen's pixels (CSS px) per mm from text such as ``"3.78"``; None when unset or blank.

    Measure it once per screen: the screen's width in CSS px (``screen.width`` in the browser)
    divided by its visible width in mm, measured with a ruler.

    Raises
    ------
    ConfigError
        Not a number from 1 to 40; names ``source``.
    """
    if text is None or not text.strip():
        return None
    low, high = _SCREEN_PX_PER_MM_RANGE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ConfigError(source, f"screen_px_per_mm must be a number from {low:g} to {high:g} (CSS pixels per mm "
                                  f"of the screen, e.g. 3.78 at 96 dpi); got {text!r}")
    return value


def parse_thresholds(text: str | None, *, source: str = "ECGREVIEW_THRESHOLDS") -> tuple[float, ...]:
    """Site thresholds from text: six numbers in [0, 1], in ``CLASSES`` order, separated by commas or semicolons.

    ``None`` or blank gives the paper's :data:`~ecgreview.record.THRESHOLDS`.

    Raises
    ------
    ConfigError
        Not six numbers, or one outside [0, 1]; names ``source`` and the expected form.
    """
    if text is None or not text.strip():
        return THRESHOLDS
    parts = [part.strip() for part in text.replace(";", ",").split(",")]
    expected = f"six numbers in [0, 1] for {', '.join(CLASSES)}, e.g. {','.join(f'{t:g}' for t in THRESHOLDS)}"
    if len(parts) != len(CLASSES):
        raise ConfigError(source, f"thresholds must be {expected}; got {len(parts)} value(s) in {text!r}")
    values = []
    for name, part in zip(CLASSES, parts):
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value <= 1.0:
            raise ConfigError(source, f"threshold for {name} must be a number in [0, 1]; got {part!r} ({expected})")
        values.append(value)
    return tuple(values)
