"""Every setting an operator may give in the environment, declared once.

Each declaration holds the name, the type, the default and the meaning. `config.load_config`
reads them, and `docs/settings.md` is generated from them (`make settings-doc`; a test checks
that the file is current), so the code and the documentation cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

DAY = 86400


class SettingError(ValueError):
    """An environment variable whose value is not of its setting's type."""


def _integer(raw: str) -> int:
    return int(raw.strip().replace("_", ""))


def _number(raw: str) -> float:
    return float(raw.strip())


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(raw)


def _text(raw: str) -> str:
    return raw.strip()


def _names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())


TYPES: dict[str, tuple[Callable[[str], Any], str]] = {
    "int": (_integer, "a whole number"),
    "float": (_number, "a number"),
    "flag": (_flag, "1, true, yes or on (0, false, no or off)"),
    "text": (_text, "text"),
    "names": (_names, "a comma-separated list"),
}


@dataclass(frozen=True)
class Setting:
    """One setting: `name` in app.config, read from the environment variable `env`."""

    name: str
    type: str
    default: Any
    doc: str
    env: str = ""
    # The default as the documentation shows it, when it is computed from other settings.
    shown_default: str = ""
    production: str = "optional"
    # The heading it is listed under in docs/settings.md.
    group: str = ""

    def __post_init__(self) -> None:
        if not self.env:
            object.__setattr__(self, "env", self.name)
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: unknown type {self.type}")

    def parse(self, raw: str) -> Any:
        """The value of the environment variable, or SettingError naming it."""
        parse, expected = TYPES[self.type]
        try:
            return parse(raw)
        except ValueError:
            raise SettingError(f"{self.env} must be {expected}, not {raw.strip()!r}") from None

    def default_for(self, earlier: dict[str, Any]) -> Any:
        """The default, computed from the settings declared before this one if need be."""
        return self.default(earlier) if callable(self.default) else self.default


def _stale_after(config: dict[str, Any]) -> float:
    # Well above the longest SMTP exchange a worker may be in.
    return max(120.0, 6 * config["MAIL_TIMEOUT"])


def _group(name: str, *settings: Setting) -> list[Setting]:
    return [replace(setting, group=name) for setting in settings]


SETTINGS: tuple[Setting, ...] = (
    *_group(
        "Site and services",
        Setting(
            "SQLALCHEMY_DATABASE_URI",
            "text",
            lambda config: f"sqlite:///{config['INSTANCE'] / 'tribune.db'}",
            "SQLAlchemy URL of the database. `postgres://` and `postgresql://` are rewritten to "
            "`postgresql+psycopg://` (psycopg 3). Anything other than SQLite switches on the "
            "production checks.",
            env="DATABASE_URL",
            shown_default="`sqlite:///<checkout>/instance/tribune.db`",
            production="**Required**",
        ),
        Setting(
            "REDIS_URL",
            "text",
            None,
            "Redis URL for the RQ queue and the shared rate-limit counters, e.g. "
            "`redis://default:PASSWORD@127.0.0.1:6379/0`. Unset: jobs run in-process. "
            "`flask worker` refuses to start without it.",
            production="**Required**",
        ),
        Setting("RQ_QUEUE", "text", "tribune", "Name of the RQ queue. Web and workers must agree."),
        Setting(
            "PUBLIC_URL",
            "text",
            "http://127.0.0.1:5000",
            "Base URL of the site (a trailing `/` is removed), for the links in emails built by "
            "workers outside any request. `https://` makes the session and remember cookies "
            "Secure.",
            production="**Required**",
        ),
        Setting(
            "DEMO",
            "flag",
            False,
            'Demo mode: `/dev/outbox` shows every email, linked from the "check your inbox" page.',
            env="TRIBUNE_DEMO",
            production="must stay **off**",
        ),
        Setting(
            "TRUSTED_PROXY_COUNT",
            "int",
            0,
            "Proxies in front of gunicorn that `ProxyFix` trusts for `X-Forwarded-For`, `-Proto` "
            "and `-Host`; `0`: no ProxyFix.",
            production="**Required: `1`** behind one nginx",
        ),
        Setting(
            "BABEL_DEFAULT_TIMEZONE",
            "text",
            "Europe/Paris",
            "Time zone in which dates are shown.",
            env="TRIBUNE_TIMEZONE",
        ),
        Setting(
            "PUBLIC_PAGE_MAX_AGE",
            "int",
            5,
            "Seconds a shared cache (the reverse proxy's micro-cache) may keep an anonymous "
            "visitor's public page (petition, list of signatories, press page): its "
            "`Cache-Control: public, s-maxage`. Browsers revalidate with the `ETag` each time "
            "(`max-age=0`). 0: no shared caching.",
        ),
    ),
    *_group(
        "Mail",
        Setting(
            "MAIL_SERVER",
            "text",
            None,
            "SMTP host. Unset: messages are written as `.eml` files to `OUTBOX_DIR`.",
            production="**Required**",
        ),
        Setting(
            "MAIL_PORT",
            "int",
            25,
            "SMTP port (usually 587 with `MAIL_USE_TLS`, 465 with `MAIL_USE_SSL`).",
            production="as your relay needs",
        ),
        Setting(
            "MAIL_USE_TLS",
            "flag",
            False,
            "STARTTLS after connecting.",
            production="as your relay needs",
        ),
        Setting(
            "MAIL_USE_SSL",
            "flag",
            False,
            "Implicit TLS (SMTPS) from the first byte.",
            production="as your relay needs",
        ),
        Setting(
            "MAIL_USERNAME",
            "text",
            None,
            "SMTP login; AUTH is attempted only when both the username and the password are set.",
            production="as your relay needs",
        ),
        Setting("MAIL_PASSWORD", "text", None, "SMTP password.", production="as your relay needs"),
        Setting(
            "MAIL_DEFAULT_SENDER",
            "text",
            "Tribune <tribune@localhost>",
            "From address of every email; its domain is also the right-hand side of the "
            "deterministic `Message-ID`.",
            production="**Required**",
        ),
        Setting(
            "MAIL_TIMEOUT", "float", 15.0, "Socket timeout, in seconds, of each SMTP connection."
        ),
        Setting(
            "OUTBOX_DIR",
            "text",
            lambda config: str(config["INSTANCE"] / "outbox"),
            "Folder of the `.eml` files when `MAIL_SERVER` is unset.",
            shown_default="`<checkout>/instance/outbox`",
            production="unused",
        ),
        Setting(
            "PUBLICATION_MAX_DELAY",
            "int",
            300,
            "Seconds within which a confirmed or withdrawn name reaches every download of the "
            "list: a change schedules a publication at the end of the current slot of this "
            "length, so a petition is published at most once per slot. `0` turns these "
            "publications off (the daily one remains).",
        ),
        Setting(
            "OUTBOX_FLUSH_INTERVAL",
            "int",
            60,
            "Seconds between two outbox flushes and mailing sweeps in each `flask worker`.",
        ),
        Setting(
            "OUTBOX_DRAIN_LINGER",
            "float",
            0.5,
            "Seconds a drain job keeps polling an empty outbox before it ends, so that a stream "
            "of signatures is sent by one job over one SMTP connection.",
        ),
    ),
    *_group(
        "Mailings",
        Setting(
            "MAILING_LANES",
            "int",
            2,
            "Sending jobs per mailing, run in parallel by as many workers (the number of worker "
            "processes you give mailings).",
        ),
        Setting(
            "MAILING_JOB_BUDGET",
            "float",
            60.0,
            "Seconds one sending job sends before handing over to a fresh job (a checkpoint; "
            "pause and cancel act within a second regardless).",
        ),
        Setting(
            "MAILING_MAX_ATTEMPTS",
            "int",
            8,
            "Attempts of one letter after temporary SMTP failures (4xx, dropped connection, "
            "timeout) before it is marked failed.",
        ),
        Setting(
            "MAILING_RETRY_BASE",
            "float",
            60.0,
            "Seconds before the first retry of a letter; each further retry waits twice as long "
            "(at most 6 h).",
        ),
        Setting(
            "MAILING_MAX_NAP",
            "float",
            10.0,
            "Longest wait, in seconds, a sending job sleeps for the pace before handing over to "
            "RQ's scheduler instead.",
        ),
        Setting(
            "MAILING_STALE_AFTER",
            "float",
            _stale_after,
            'Seconds after which a letter still "sending" belongs to a dead worker: it is '
            "marked *unknown*, never sent again automatically (the organiser decides).",
            shown_default="max(120, 6 × `MAIL_TIMEOUT`)",
        ),
        Setting(
            "MAILING_STALL_AFTER",
            "float",
            30.0,
            "Seconds without any claim, with letters overdue, after which the sweeper enqueues "
            "a mailing's jobs again (after a worker death or a Redis flush).",
        ),
        Setting(
            "MAILING_DUPLICATE_THRESHOLD",
            "int",
            10,
            "Supporters sending the same letter text (case, spacing and punctuation ignored) "
            "before every copy is flagged to the organiser.",
        ),
        Setting(
            "MAILING_CONFIRM_TYPED_ABOVE",
            "int",
            100,
            "Recipients above which an organiser confirms a mailing by typing their number, "
            "not only by pressing the button.",
        ),
        Setting(
            "LETTER_MIN_OWN_WORDS",
            "int",
            80,
            "Characters a supporter must write in their own words before their letter to "
            "their representatives can leave (the organisers' prompt does not count).",
        ),
        Setting(
            "WRITE_LINK_MAX_AGE",
            "int",
            30 * DAY,
            'Lifetime, in seconds, of the "write to your representatives" link shown after '
            "confirming (30 days).",
        ),
        Setting(
            "REPLY_TO_LINK_MAX_AGE",
            "int",
            7 * DAY,
            "Lifetime, in seconds, of the link that confirms a campaign's Reply-To address "
            "(7 days).",
        ),
        Setting(
            "UNSUBSCRIBE_LINK_MAX_AGE",
            "int",
            365 * DAY,
            "Lifetime, in seconds, of the one-click unsubscribe link (`List-Unsubscribe`) in "
            "updates to signatories (365 days).",
        ),
    ),
    *_group(
        "Signing and links",
        Setting(
            "CONFIRMATION_TOKEN_MAX_AGE",
            "int",
            7 * DAY,
            "Lifetime, in seconds, of confirmation links (7 days); the email rounds it down to "
            "whole days.",
        ),
        Setting(
            "WITHDRAW_LINK_MAX_AGE",
            "int",
            90 * DAY,
            "Lifetime, in seconds, of the withdrawal link in the confirmation email (90 days); "
            "past it, the page offers a fresh link to the signer's data.",
        ),
        Setting(
            "CONFIRMATION_RESEND_INTERVAL",
            "int",
            600,
            "Minimum seconds between two confirmation emails for one signature.",
        ),
        Setting(
            "CONFIRMATION_MAX_SENDS", "int", 5, "Confirmation emails for one signature, at most."
        ),
        Setting(
            "CONFIRMATION_DAILY_CAP_PER_ADDRESS",
            "int",
            20,
            "Confirmation emails to one mailbox in 24 hours, across all petitions, at most.",
        ),
        Setting(
            "SUSPECT_SIGNATURES_PER_IP_PER_HOUR",
            "int",
            20,
            "Signatures from one client IP in an hour above which they are held for review "
            "(suspect) instead of counted.",
        ),
        Setting(
            "SUSPECT_SIGNATURES_PER_DOMAIN_PER_HOUR",
            "int",
            300,
            "Signatures from one email domain in an hour above which they are held for review.",
        ),
        Setting(
            "ALTCHA_ENABLED",
            "flag",
            True,
            "The proof of work (ALTCHA, computed in the browser) on the public forms.",
            production="keep on",
        ),
        Setting(
            "ALTCHA_MAX_NUMBER",
            "int",
            100_000,
            "Difficulty of the proof of work: the largest number the browser may have to try.",
        ),
        Setting("ALTCHA_EXPIRY", "int", 1200, "Seconds a proof-of-work challenge stays valid."),
    ),
    *_group(
        "Rate limits",
        Setting(
            "RATELIMIT_ENABLED",
            "flag",
            True,
            "Flask-Limiter on or off.",
            production="keep on",
        ),
        Setting(
            "RATELIMIT_STORAGE_URI",
            "text",
            lambda config: config["REDIS_URL"] or "memory://",
            "Where the rate-limit counters live. With `memory://`, every gunicorn process counts "
            "on its own.",
            shown_default="`REDIS_URL` if set, else `memory://`",
        ),
        Setting(
            "RATELIMIT_SIGN",
            "text",
            "30 per minute;300 per hour;1000 per day",
            "A flood guard on `POST /p/<slug>/sign`, per client IP digest (ordinary excess is "
            "held for review instead, see `SUSPECT_*`).",
        ),
        Setting(
            "RATELIMIT_RESEND",
            "text",
            "3 per 10 minutes;10 per day",
            "Limits on resending a confirmation link, per signature (or per client IP digest "
            "if the link is not valid).",
        ),
        Setting(
            "RATELIMIT_WRITE",
            "text",
            "20 per minute;200 per day",
            "Limits on `POST /p/<slug>/write/<token>` (a supporter's letter to their "
            "representatives), per client IP digest.",
        ),
        Setting(
            "RATELIMIT_LOGIN",
            "text",
            "10 per minute;30 per hour",
            "Limits on refused workspace logins (and second-factor codes) per client IP "
            "digest, and per account and client IP digest: one client can neither guess on, "
            "nor lock out, an account it does not own.",
        ),
        Setting(
            "RATELIMIT_LOGIN_ACCOUNT",
            "text",
            "100 per hour;300 per day",
            "Limits on refused logins (and second-factor codes) per account from all clients "
            "together: the ceiling against guessing spread over many addresses. Successful "
            "logins count in none of the three.",
        ),
    ),
    *_group(
        "Workspace",
        Setting(
            "REQUIRE_2FA",
            "flag",
            False,
            "A second factor (TOTP) is mandatory for every role that can export personal data.",
            production="recommended",
        ),
    ),
    *_group(
        "Privacy",
        Setting(
            "PRIVACY_CONTROLLER",
            "text",
            "Tribune",
            "Data controller named on `/privacy`.",
            production="**Required**",
        ),
        Setting(
            "PRIVACY_CONTACT",
            "text",
            "dpo@localhost",
            "Contact for data-protection requests named on `/privacy`.",
            production="**Required**",
        ),
        Setting(
            "PRIVACY_DPO_CONTACT",
            "text",
            lambda config: config["PRIVACY_CONTACT"],
            "The data protection officer's contact, if not the same.",
            shown_default="`PRIVACY_CONTACT`",
        ),
        Setting(
            "PRIVACY_HOSTING",
            "text",
            "",
            'Who hosts the service, named on `/privacy`; empty: "self-hosted by the '
            "campaign's organiser\", in each language.",
        ),
        Setting(
            "PRIVACY_SUBPROCESSORS",
            "names",
            (),
            "Processors acting for the controller (the mail relay, the host), named on `/privacy`.",
        ),
        Setting(
            "PRIVACY_RETENTION_DAYS",
            "int",
            183,
            "Days after a petition ends before its signers' contact data is erased.",
        ),
        Setting(
            "PRIVACY_RIGHTS_LINK_MAX_AGE",
            "int",
            7 * DAY,
            "Lifetime, in seconds, of the emailed link to a signer's own data (7 days).",
        ),
        Setting(
            "PRIVACY_RIGHTS_LINK_RATELIMIT",
            "text",
            "3 per 10 minutes;10 per day",
            "Limits on asking for that link, per client IP digest.",
        ),
        Setting(
            "PRIVACY_RIGHTS_LINKS_PER_DAY",
            "int",
            5,
            "Links to one's own data sent to one address in a day, at most.",
        ),
    ),
)

# Read by config.load_config, outside SETTINGS: they are checked, generated or refused there.
SECRETS_DOC = (
    "`SECRET_KEY`, `EMAIL_DIGEST_KEY`, `EMAIL_ENCRYPTION_KEY` (a Fernet key) and `IP_HASH_KEY`: "
    "**required in production**, the same in every web and worker process; the embedded "
    "default generates them once into `instance/secrets.json` (mode 0600). See "
    "[deploy.md, section 4.1](deploy.md#41-the-four-secrets)."
)


def _shown(setting: Setting) -> str:
    if setting.shown_default:
        return setting.shown_default
    value = setting.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value in ("", ()):
        return "empty"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def settings_markdown() -> str:
    """docs/settings.md: one table per group, in declaration order."""
    lines = [
        "# Settings",
        "",
        "<!-- Generated from campaign/settings.py by `make settings-doc`: edit there. -->",
        "",
        "Every setting comes from the environment. An empty value means the default. Flags are "
        "true for `1`, `true`, `yes`, `on` and false for `0`, `false`, `no`, `off` (any case); "
        "another value, like a number that is not one, stops the process at start with a "
        "message naming the variable.",
        "",
        '"Required" means that production needs an explicit value; only the secrets are '
        "enforced. When the database is not SQLite, every process logs a warning at start "
        "(prefixed `configuration:`) for the settings that look wrong for production.",
        "",
        "Secrets: " + SECRETS_DOC,
    ]
    group = None
    for setting in SETTINGS:
        if setting.group != group:
            group = setting.group
            lines += [
                "",
                f"## {group}",
                "",
                "| Variable | Default | Meaning | Production |",
                "|---|---|---|---|",
            ]
        lines.append(
            f"| `{setting.env}` | {_shown(setting)} | {setting.doc} | {setting.production} |"
        )
    return "\n".join(lines) + "\n"
