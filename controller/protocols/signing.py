"""L5 signed command envelopes: Ed25519 over canonical JSON (sans-IO; time passed in).

An envelope is one JSON object on the bus (`cmd/submit`, `cmd/exec`):

    {"command": {...}, "expires_at": 1700000030.0, "issued_at": 1700000000.0,
     "issuer": "operator", "nonce": "<32 hex>", "sig": "<base64>", "v": 1}

- `command` is `Command.as_dict()`; this module never interprets it beyond `kind` and `id`.
- `sig` is Ed25519 (RFC 8032, section 5.1, "PureEdDSA") by the issuer's key over the canonical
  JSON of every other field: keys sorted, separators `,` and `:`, ASCII only (`\\uXXXX`
  escapes), no NaN or Infinity. Ed25519 is deterministic, so equal input gives equal bytes.
- The envelope itself travels in that canonical form, `sig` included, and `Verifier` refuses
  any other spelling of it. So one command has exactly one byte string: whitespace, key
  order, number spelling or base64 padding bits cannot make a second, "new" copy.

`Verifier.verify(payload, now)` returns a `VerifiedCommand` or raises `CommandRejected` with a
stable `reason_code` (see `Reason`). It remembers each accepted (issuer, nonce) until the
envelope has expired (plus the allowed skew), and at most `max_nonces` of them: past that it
refuses new commands (`flood`) rather than forget a nonce that could then be replayed.
"""

from __future__ import annotations

import base64
import binascii
import enum
import heapq
import json
import math
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from controller.errors import ControllerError

__all__ = [
    "ENVELOPE_VERSION",
    "MAX_ENVELOPE_BYTES",
    "Claims",
    "CommandRejected",
    "Reason",
    "VerifiedCommand",
    "Verifier",
    "canonical_json",
    "decode_private_key",
    "decode_public_key",
    "encode_private_key",
    "encode_public_key",
    "new_nonce",
    "read_claims",
    "sign",
]

ENVELOPE_VERSION = 1
MAX_ENVELOPE_BYTES = 16 * 1024  # ours: a command is a few hundred bytes
_FIELDS = frozenset({"v", "command", "issuer", "issued_at", "nonce", "expires_at", "sig"})
_NONCE = re.compile(r"[0-9a-f]{32}")
_ISSUER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_KEY_BYTES = 32  # RFC 8032, 5.1.5: a 32-byte private key (seed) and a 32-byte public key
_SIG_BYTES = 64  # RFC 8032, 5.1.6: a signature is 64 bytes (R || S)
_CLAIM_CHARS = 200  # unverified text copied into a rejection (and so into audit logs)


class Reason(enum.StrEnum):
    """Why an envelope was refused: short strings that stay stable for logs and tests."""

    MALFORMED = "malformed"  # not a well-formed canonical envelope
    UNKNOWN_ISSUER = "unknown-issuer"  # no public key for the issuer
    FORGED = "forged"  # the signature does not verify
    FUTURE = "future"  # issued later than now plus the allowed skew
    EXPIRED = "expired"  # now is past expires_at
    NOT_ALLOWED = "not-allowed"  # the issuer may not send this kind (ACL)
    REPLAYED = "replayed"  # this issuer's nonce was already accepted
    FLOOD = "flood"  # too many live nonces to remember; refused rather than forgotten


@dataclass(frozen=True, slots=True, kw_only=True)
class Claims:
    """What an envelope says about itself before anything is verified (for logs only)."""

    issuer: str | None = None
    command_id: str | None = None
    kind: str | None = None


class CommandRejected(ControllerError):  # noqa: N818 - the agreed name (issue 8 design)
    """An envelope that must not be executed; `reason_code` says why, `claims` who it claims."""

    def __init__(self, reason_code: Reason, message: str, claims: Claims | None = None) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message
        self.claims = claims if claims is not None else Claims()


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedCommand:
    """An envelope whose signature, times, ACL and nonce all checked out."""

    command: dict[str, object]  # as signed; the runtime builds its Command from it
    kind: str
    command_id: str
    issuer: str
    issued_at: float
    expires_at: float
    nonce: str


def canonical_json(value: object) -> bytes:
    """Sorted keys, no spaces, ASCII only, no NaN/Infinity: the bytes that are signed."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return text.encode("ascii")


def new_nonce() -> str:
    """128 random bits as 32 lowercase hex characters."""
    return secrets.token_hex(16)


def sign(
    command_dict: Mapping[str, object],
    issuer: str,
    key: Ed25519PrivateKey,
    issued_at: float,
    ttl_s: float,
    nonce: str,
) -> bytes:
    """The canonical envelope bytes of `command_dict`, signed by `issuer` with `key`.

    Raises:
        ValueError: an issuer, time, lifetime or nonce that `Verifier` would refuse.
    """
    if not _ISSUER.fullmatch(issuer):
        raise ValueError(f"issuer={issuer!r} is not a role name")
    if not math.isfinite(issued_at):
        raise ValueError(f"issued_at={issued_at!r} is not a finite time")
    if not (math.isfinite(ttl_s) and ttl_s > 0):
        raise ValueError(f"ttl_s={ttl_s!r} must be a positive number of seconds")
    if not _NONCE.fullmatch(nonce):
        raise ValueError(f"nonce={nonce!r} must be 32 lowercase hex characters")
    body: dict[str, object] = {
        "v": ENVELOPE_VERSION,
        "command": dict(command_dict),
        "issuer": issuer,
        "issued_at": float(issued_at),
        "nonce": nonce,
        "expires_at": float(issued_at) + float(ttl_s),
    }
    signature = key.sign(canonical_json(body))
    return canonical_json({**body, "sig": base64.b64encode(signature).decode("ascii")})


def encode_private_key(key: Ed25519PrivateKey) -> str:
    """Base64 of the 32-byte private key (RFC 8032 seed)."""
    return base64.b64encode(key.private_bytes_raw()).decode("ascii")


def encode_public_key(key: Ed25519PublicKey) -> str:
    """Base64 of the 32-byte public key (RFC 8032, 5.1.5)."""
    return base64.b64encode(key.public_bytes_raw()).decode("ascii")


def _strict_b64(text: str, size: int, what: str) -> bytes:
    """Decode canonical base64 of exactly `size` bytes; ValueError says what is wrong."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{what} is not base64") from None
    if len(raw) != size:
        raise ValueError(f"{what} is {len(raw)} bytes, expected {size}")
    if base64.b64encode(raw).decode("ascii") != text:  # unused low bits set: a second spelling
        raise ValueError(f"{what} is not canonical base64")
    return raw


def decode_private_key(text: str) -> Ed25519PrivateKey:
    """The key `encode_private_key` wrote; ValueError if it is not one."""
    return Ed25519PrivateKey.from_private_bytes(_strict_b64(text, _KEY_BYTES, "private key"))


def decode_public_key(text: str) -> Ed25519PublicKey:
    """The key `encode_public_key` wrote; ValueError if it is not one."""
    return Ed25519PublicKey.from_public_bytes(_strict_b64(text, _KEY_BYTES, "public key"))


@dataclass(frozen=True, slots=True)
class _Envelope:
    command: dict[str, object]
    kind: str
    command_id: str
    issuer: str
    issued_at: float
    expires_at: float
    nonce: str
    signed: bytes
    sig: bytes
    claims: Claims


def _clip(value: object) -> str | None:
    return value[:_CLAIM_CHARS] if isinstance(value, str) else None


def _claims_of(obj: object) -> Claims:
    if not isinstance(obj, dict):
        return Claims()
    command = obj.get("command")
    command = command if isinstance(command, dict) else {}
    return Claims(
        issuer=_clip(obj.get("issuer")),
        command_id=_clip(command.get("id")),
        kind=_clip(command.get("kind")),
    )


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _load(payload: bytes) -> object:
    if len(payload) > MAX_ENVELOPE_BYTES:
        raise CommandRejected(
            Reason.MALFORMED, f"envelope is {len(payload)} bytes, more than {MAX_ENVELOPE_BYTES}"
        )
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise CommandRejected(Reason.MALFORMED, "envelope is not ASCII JSON") from None
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise CommandRejected(Reason.MALFORMED, f"envelope is not JSON: {exc}") from None
    return obj


def _time_field(obj: dict[str, object], name: str, claims: Claims) -> float:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CommandRejected(Reason.MALFORMED, f"{name} must be a finite number", claims)
    return float(value)


def _parse(payload: bytes) -> _Envelope:
    obj = _load(payload)
    claims = _claims_of(obj)
    if not isinstance(obj, dict):
        raise CommandRejected(Reason.MALFORMED, "envelope is not a JSON object")
    fields = set(obj)
    if fields != _FIELDS:
        missing, extra = sorted(_FIELDS - fields), sorted(fields - _FIELDS)
        what = f"missing field {missing[0]!r}" if missing else f"unknown field {extra[0]!r}"
        raise CommandRejected(Reason.MALFORMED, what, claims)
    version = obj["v"]
    if type(version) is not int or version != ENVELOPE_VERSION:
        raise CommandRejected(Reason.MALFORMED, f"v={version!r} is not {ENVELOPE_VERSION}", claims)
    try:
        canonical = canonical_json(obj)
    except (ValueError, RecursionError):  # a number too large for a float, such as 1e400
        raise CommandRejected(
            Reason.MALFORMED, "envelope holds a non-finite number", claims
        ) from None
    if canonical != payload:
        raise CommandRejected(Reason.MALFORMED, "envelope is not in canonical form", claims)
    command, issuer, nonce, sig = obj["command"], obj["issuer"], obj["nonce"], obj["sig"]
    if not isinstance(command, dict):
        raise CommandRejected(Reason.MALFORMED, "command must be an object", claims)
    kind, command_id = command.get("kind"), command.get("id")
    if not isinstance(kind, str) or not isinstance(command_id, str):
        raise CommandRejected(Reason.MALFORMED, "command kind and id must be strings", claims)
    if not isinstance(issuer, str) or not _ISSUER.fullmatch(issuer):
        raise CommandRejected(Reason.MALFORMED, "issuer must be a role name", claims)
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise CommandRejected(Reason.MALFORMED, "nonce must be 32 lowercase hex", claims)
    if not isinstance(sig, str):
        raise CommandRejected(Reason.MALFORMED, "sig must be a base64 string", claims)
    try:
        raw_sig = _strict_b64(sig, _SIG_BYTES, "sig")
    except ValueError as exc:
        raise CommandRejected(Reason.MALFORMED, str(exc), claims) from None
    issued_at = _time_field(obj, "issued_at", claims)
    expires_at = _time_field(obj, "expires_at", claims)
    unsigned = {k: v for k, v in obj.items() if k != "sig"}
    return _Envelope(
        command=command,
        kind=kind,
        command_id=command_id,
        issuer=issuer,
        issued_at=issued_at,
        expires_at=expires_at,
        nonce=nonce,
        signed=canonical_json(unsigned),
        sig=raw_sig,
        claims=claims,
    )


def read_claims(payload: bytes) -> Claims:
    """Issuer, command id and kind as the payload claims them, unverified; never raises."""
    try:
        return _claims_of(_load(payload))
    except CommandRejected:
        return Claims()


class Verifier:
    """Checks envelopes against trusted keys, an ACL, time and the nonces seen (see module doc).

    `public_keys` maps an issuer to its key; `acl` maps an issuer to the command kinds it may
    send (an issuer missing from `acl` may send none). An envelope is valid while
    `issued_at - max_skew_s <= now <= expires_at`, and its lifetime `expires_at - issued_at`
    may not exceed `replay_window_s`.
    """

    def __init__(
        self,
        *,
        public_keys: Mapping[str, Ed25519PublicKey],
        acl: Mapping[str, Collection[str]],
        max_skew_s: float = 2.0,
        replay_window_s: float = 60.0,
        max_nonces: int = 100_000,
    ) -> None:
        if not (math.isfinite(max_skew_s) and max_skew_s >= 0):
            raise ValueError(f"max_skew_s={max_skew_s!r} must be a non-negative number")
        if not (math.isfinite(replay_window_s) and replay_window_s > 0):
            raise ValueError(f"replay_window_s={replay_window_s!r} must be a positive number")
        if max_nonces < 1:
            raise ValueError(f"max_nonces={max_nonces!r} must be at least 1")
        self._keys = dict(public_keys)
        self._acl = {issuer: frozenset(kinds) for issuer, kinds in acl.items()}
        self.max_skew_s = float(max_skew_s)
        self.replay_window_s = float(replay_window_s)
        self.max_nonces = max_nonces
        self._seen: set[tuple[str, str]] = set()
        self._forget: list[tuple[float, str, str]] = []  # heap of (forget_at, issuer, nonce)

    @property
    def remembered(self) -> int:
        """How many nonces are held to detect replays."""
        return len(self._seen)

    def verify(self, payload: bytes, now: float) -> VerifiedCommand:
        """The command in `payload` if it may execute at shared time `now`.

        Raises:
            CommandRejected: for any reason in `Reason`; nothing else, whatever the bytes.
        """
        env = _parse(payload)
        self._check_signature(env)
        self._check_times(env, now)
        allowed = self._acl.get(env.issuer, frozenset())
        if env.kind not in allowed:
            raise CommandRejected(
                Reason.NOT_ALLOWED,
                f"issuer {env.issuer!r} may not send {env.kind!r}",
                env.claims,
            )
        self._remember(env, now)
        return VerifiedCommand(
            command=env.command,
            kind=env.kind,
            command_id=env.command_id,
            issuer=env.issuer,
            issued_at=env.issued_at,
            expires_at=env.expires_at,
            nonce=env.nonce,
        )

    def _check_signature(self, env: _Envelope) -> None:
        key = self._keys.get(env.issuer)
        if key is None:
            raise CommandRejected(
                Reason.UNKNOWN_ISSUER, f"no public key for issuer {env.issuer!r}", env.claims
            )
        try:
            key.verify(env.sig, env.signed)
        except InvalidSignature:
            raise CommandRejected(
                Reason.FORGED,
                f"signature does not verify with the key of issuer {env.issuer!r}",
                env.claims,
            ) from None

    def _check_times(self, env: _Envelope, now: float) -> None:
        lifetime = env.expires_at - env.issued_at
        if not 0 < lifetime <= self.replay_window_s:
            raise CommandRejected(
                Reason.MALFORMED,
                f"lifetime {lifetime:g} s out of range (0, {self.replay_window_s:g}]",
                env.claims,
            )
        if env.issued_at > now + self.max_skew_s:
            raise CommandRejected(
                Reason.FUTURE,
                f"issued {env.issued_at - now:.3f} s in the future (allowed skew "
                f"{self.max_skew_s:g} s)",
                env.claims,
            )
        if now > env.expires_at:
            raise CommandRejected(
                Reason.EXPIRED, f"expired {now - env.expires_at:.3f} s ago", env.claims
            )

    def _remember(self, env: _Envelope, now: float) -> None:
        while self._forget and self._forget[0][0] < now:
            _, issuer, nonce = heapq.heappop(self._forget)
            self._seen.discard((issuer, nonce))
        key = (env.issuer, env.nonce)
        if key in self._seen:
            raise CommandRejected(
                Reason.REPLAYED,
                f"nonce {env.nonce} of issuer {env.issuer!r} was already accepted",
                env.claims,
            )
        if len(self._seen) >= self.max_nonces:
            raise CommandRejected(
                Reason.FLOOD,
                f"{len(self._seen)} live commands already remembered (limit {self.max_nonces})",
                env.claims,
            )
        self._seen.add(key)
        # kept past expiry by the allowed skew, so a shared clock corrected slightly
        # backwards cannot bring an expired nonce back to life
        heapq.heappush(self._forget, (env.expires_at + self.max_skew_s, env.issuer, env.nonce))
