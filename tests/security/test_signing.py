"""Signed command envelopes: golden bytes, every rejection reason, mutations and garbage."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.protocols.signing import (
    MAX_ENVELOPE_BYTES,
    Claims,
    CommandRejected,
    Reason,
    Verifier,
    decode_private_key,
    decode_public_key,
    encode_private_key,
    encode_public_key,
    read_claims,
    sign,
)
from tests.security import ed25519_ref

FAST = settings(max_examples=min(100, settings().max_examples), deadline=None)

SEED = bytes(range(32))
KEY = Ed25519PrivateKey.from_private_bytes(SEED)
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
T0 = 1767225600.0  # 2026-01-01T00:00:00Z
NONCE = "000102030405060708090a0b0c0d0e0f"
GO = {"kind": "go", "args": [], "id": "op-1", "origin": "operator", "exec_at": T0 + 10}
ALL_KINDS = ("arm", "go", "resume", "hold", "goto", "seek", "blackout", "master")

# The envelope of GO signed by SEED's key as "operator" at T0 for 30 s with NONCE.
SIGNED_PART = (
    b'{"command":{"args":[],"exec_at":1767225610.0,"id":"op-1","kind":"go",'
    b'"origin":"operator"},"expires_at":1767225630.0,"issued_at":1767225600.0,'
    b'"issuer":"operator","nonce":"000102030405060708090a0b0c0d0e0f","v":1}'
)
GOLDEN_SIG = (
    "OIiUxcwt5V7zsem74dhpy30oWb3PBsB8OBFyqiyv+w9u/+s5lK+Sf5Jc1aCjDtwW/TpyfDBTalRWn91GqEv8Bw=="
)
GOLDEN = (
    b'{"command":{"args":[],"exec_at":1767225610.0,"id":"op-1","kind":"go",'
    b'"origin":"operator"},"expires_at":1767225630.0,"issued_at":1767225600.0,'
    b'"issuer":"operator","nonce":"000102030405060708090a0b0c0d0e0f","sig":"'
    + GOLDEN_SIG.encode()
    + b'","v":1}'
)
PUBLIC_HEX = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"


def verifier(**kw: object) -> Verifier:
    options: dict[str, object] = {
        "public_keys": {"operator": KEY.public_key()},
        "acl": {"operator": ALL_KINDS},
        "max_skew_s": 2.0,
        "replay_window_s": 60.0,
    }
    options.update(kw)
    return Verifier(**options)  # type: ignore[arg-type]


def envelope(
    command: dict[str, object] | None = None,
    *,
    key: Ed25519PrivateKey = KEY,
    issuer: str = "operator",
    issued_at: float = T0,
    ttl_s: float = 30.0,
    nonce: str = NONCE,
) -> bytes:
    return sign(command or GO, issuer, key, issued_at, ttl_s, nonce)


def rejected(v: Verifier, payload: bytes, now: float = T0 + 1) -> CommandRejected:
    with pytest.raises(CommandRejected) as info:
        v.verify(payload, now)
    return info.value


# --- golden vector ---------------------------------------------------------------------------


def test_rfc8032_vectors_hold_for_the_reference_and_for_our_key_codec() -> None:
    # RFC 8032, 7.1 TEST 1 and TEST 2
    cases = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            b"",
            (
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
                "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            ),
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            b"\x72",
            (
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
                "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
            ),
        ),
    ]
    for secret_hex, public_hex, message, sig_hex in cases:
        secret = bytes.fromhex(secret_hex)
        assert ed25519_ref.public_key(secret).hex() == public_hex
        assert ed25519_ref.sign(secret, message).hex() == sig_hex
        key = decode_private_key(base64.b64encode(secret).decode())
        assert key.public_key().public_bytes_raw().hex() == public_hex
        assert key.sign(message).hex() == sig_hex


def test_golden_envelope_bytes() -> None:
    assert envelope() == GOLDEN
    assert KEY.public_key().public_bytes_raw().hex() == PUBLIC_HEX


def test_golden_signature_checks_out_independently() -> None:
    sig = base64.b64decode(GOLDEN_SIG)
    # the RFC 8032 reference code, from the seed alone: same public key, same signature
    assert ed25519_ref.public_key(SEED).hex() == PUBLIC_HEX
    assert ed25519_ref.sign(SEED, SIGNED_PART) == sig
    assert ed25519_ref.verify(bytes.fromhex(PUBLIC_HEX), SIGNED_PART, sig)
    # the library's low-level API on hand-written bytes (raises InvalidSignature if wrong)
    KEY.public_key().verify(sig, SIGNED_PART)
    # and the envelope is the signed part with "sig" spliced in, in key order
    obj = json.loads(GOLDEN)
    assert list(obj) == sorted(obj)
    assert obj.pop("sig") == GOLDEN_SIG
    assert json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() == SIGNED_PART


def test_golden_envelope_verifies() -> None:
    got = verifier().verify(GOLDEN, T0 + 1)
    assert (got.kind, got.command_id, got.issuer, got.nonce) == ("go", "op-1", "operator", NONCE)
    assert (got.issued_at, got.expires_at) == (T0, T0 + 30)
    assert got.command == GO


def test_key_codecs_round_trip_and_refuse_bad_text() -> None:
    assert encode_private_key(decode_private_key(encode_private_key(KEY))) == encode_private_key(
        KEY
    )
    pub = encode_public_key(KEY.public_key())
    assert pub == "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
    assert decode_public_key(pub) == KEY.public_key()
    with pytest.raises(ValueError, match=r"^public key is not base64$"):
        decode_public_key("A6EH v/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")
    with pytest.raises(ValueError, match=r"^public key is 3 bytes, expected 32$"):
        decode_public_key("AAAA")
    with pytest.raises(ValueError, match=r"^public key is not canonical base64$"):
        decode_public_key("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh=")
    with pytest.raises(ValueError, match=r"^private key is not base64$"):
        decode_private_key("é")


def test_sign_refuses_what_a_verifier_would() -> None:
    with pytest.raises(ValueError, match=r"^nonce='abc' must be 32 lowercase hex characters$"):
        envelope(nonce="abc")
    with pytest.raises(ValueError, match=r"^ttl_s=0\.0 must be a positive number of seconds$"):
        envelope(ttl_s=0.0)
    with pytest.raises(ValueError, match=r"^issuer='a b' is not a role name$"):
        envelope(issuer="a b")
    with pytest.raises(ValueError, match=r"^issued_at=nan is not a finite time$"):
        envelope(issued_at=float("nan"))


# --- each reason, with its message ----------------------------------------------------------


def test_forged_signature() -> None:
    exc = rejected(verifier(), envelope(key=OTHER))
    assert exc.reason_code is Reason.FORGED
    assert str(exc) == "forged: signature does not verify with the key of issuer 'operator'"
    assert exc.claims == Claims(issuer="operator", command_id="op-1", kind="go")


def test_changed_command_with_the_old_signature_is_forged() -> None:
    tampered = GOLDEN.replace(b'"kind":"go"', b'"kind":"hold"')
    assert rejected(verifier(), tampered).reason_code is Reason.FORGED


def test_unknown_issuer() -> None:
    exc = rejected(verifier(), envelope(issuer="mallory"))
    assert str(exc) == "unknown-issuer: no public key for issuer 'mallory'"


def test_expired() -> None:
    v = verifier()
    assert v.verify(envelope(), T0 + 30).command_id == "op-1"  # valid through expires_at
    exc = rejected(verifier(), envelope(), now=T0 + 30.5)
    assert str(exc) == "expired: expired 0.500 s ago"


def test_future_beyond_skew() -> None:
    assert verifier().verify(envelope(issued_at=T0 + 2), T0).command_id == "op-1"
    exc = rejected(verifier(), envelope(issued_at=T0 + 2.5), now=T0)
    assert str(exc) == "future: issued 2.500 s in the future (allowed skew 2 s)"


def test_replayed_nonce() -> None:
    v = verifier()
    v.verify(GOLDEN, T0 + 1)
    exc = rejected(v, GOLDEN, now=T0 + 2)
    assert str(exc) == (
        "replayed: nonce 000102030405060708090a0b0c0d0e0f of issuer 'operator' was already accepted"
    )
    # another nonce for the same command is a new command
    assert v.verify(envelope(nonce="f" * 32), T0 + 2).command_id == "op-1"


def test_replay_after_expiry_is_expired_and_the_nonce_is_forgotten() -> None:
    v = verifier()
    v.verify(GOLDEN, T0 + 1)
    assert v.remembered == 1
    assert rejected(v, GOLDEN, now=T0 + 31).reason_code is Reason.EXPIRED
    # kept until expires_at + skew, then dropped when the next command is remembered
    v.verify(envelope(issued_at=T0 + 40, nonce="1" * 32), T0 + 40)
    assert v.remembered == 1


def test_not_allowed_kind() -> None:
    v = verifier(acl={"operator": ("blackout",)})
    exc = rejected(v, GOLDEN)
    assert str(exc) == "not-allowed: issuer 'operator' may not send 'go'"
    assert rejected(verifier(acl={}), GOLDEN).reason_code is Reason.NOT_ALLOWED


def test_lifetime_longer_than_the_replay_window_is_malformed() -> None:
    exc = rejected(verifier(replay_window_s=10.0), GOLDEN)
    assert str(exc) == "malformed: lifetime 30 s out of range (0, 10]"


def test_flood_refuses_rather_than_forgets() -> None:
    v = verifier(max_nonces=2)
    v.verify(envelope(nonce="1" * 32), T0 + 1)
    v.verify(envelope(nonce="2" * 32), T0 + 1)
    exc = rejected(v, envelope(nonce="3" * 32))
    assert str(exc) == "flood: 2 live commands already remembered (limit 2)"
    assert rejected(v, envelope(nonce="1" * 32)).reason_code is Reason.REPLAYED
    # once they expire there is room again
    v.verify(envelope(issued_at=T0 + 40, nonce="3" * 32), T0 + 40)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "envelope is not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"\xff", "envelope is not ASCII JSON"),
        (b"[]", "envelope is not a JSON object"),
        (b"{}", "missing field 'command'"),
        (GOLDEN[:-1] + b',"x":1}', "unknown field 'x'"),
        (GOLDEN.replace(b'"v":1', b'"v":2'), "v=2 is not 1"),
        (GOLDEN.replace(b'"v":1', b'"v":true'), "v=True is not 1"),
        (GOLDEN.replace(b'"v":1', b'"v":1.0'), "v=1.0 is not 1"),
        (GOLDEN.replace(b'{"command"', b'{ "command"'), "envelope is not in canonical form"),
        (GOLDEN.replace(b'"v":1}', b'"v":1,"v":1}'), "envelope is not JSON: duplicate key in an object"),
        (GOLDEN.replace(b"1767225600.0", b"NaN"), "envelope is not JSON: NaN is not a number JSON allows"),
        (GOLDEN.replace(b"1767225600.0", b"1e400"), "envelope holds a non-finite number"),
        (GOLDEN.replace(b"1767225600.0", b'"x"'), "issued_at must be a finite number"),
        (GOLDEN.replace(b'"op-1"', b"1"), "command kind and id must be strings"),
        (GOLDEN.replace(NONCE.encode(), NONCE.upper().encode()), "nonce must be 32 lowercase hex"),
        (GOLDEN.replace(b'"operator","nonce"', b'"a b","nonce"'), "issuer must be a role name"),
        (GOLDEN.replace(b"Bw==", b"Bx=="), "sig is not canonical base64"),
        (GOLDEN.replace(b"Bw==", b""), "sig is 63 bytes, expected 64"),
        (b"{" + b" " * MAX_ENVELOPE_BYTES + b"}", f"envelope is {MAX_ENVELOPE_BYTES + 2} bytes, more than {MAX_ENVELOPE_BYTES}"),
    ],
)  # fmt: skip
def test_malformed(payload: bytes, message: str) -> None:
    exc = rejected(verifier(), payload)
    assert exc.reason_code is Reason.MALFORMED
    assert exc.message == message


def test_deep_nesting_is_malformed_not_a_recursion_error() -> None:
    exc = rejected(verifier(), b"[" * 10000)
    assert exc.reason_code is Reason.MALFORMED
    assert exc.message.startswith("envelope is not JSON: maximum recursion depth exceeded")


def test_read_claims_never_raises() -> None:
    assert read_claims(GOLDEN) == Claims(issuer="operator", command_id="op-1", kind="go")
    assert read_claims(b"\xff") == Claims()
    assert read_claims(b'{"issuer": "' + b"x" * 500 + b'"}').issuer == "x" * 200


def test_verifier_refuses_bad_options() -> None:
    with pytest.raises(ValueError, match=r"^max_skew_s=-1\.0 must be a non-negative number$"):
        verifier(max_skew_s=-1.0)
    with pytest.raises(ValueError, match=r"^replay_window_s=inf must be a positive number$"):
        verifier(replay_window_s=float("inf"))


# --- properties -----------------------------------------------------------------------------


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(GOLDEN)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(("flip", "set", "insert", "delete", "space")))
        if op == "space":  # JSON that means the same, spelled differently
            data[i:i] = draw(st.sampled_from((b" ", b"\n", b"\t")))
        elif op == "insert" or not data:
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del data[min(i, len(data) - 1)]
        elif op == "flip":
            data[min(i, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        else:
            data[min(i, len(data) - 1)] = draw(st.integers(0x20, 0x7E))
    return bytes(data)


@FAST
@given(mutations())
def test_any_mutation_of_a_signed_envelope_is_rejected(payload: bytes) -> None:
    if payload == GOLDEN:
        return
    with pytest.raises(CommandRejected):
        verifier().verify(payload, T0 + 1)


@FAST
@given(st.integers(0, len(GOLDEN) - 1), st.integers(1, 255))
def test_every_single_byte_change_is_rejected(index: int, delta: int) -> None:
    data = bytearray(GOLDEN)
    data[index] = (data[index] + delta) % 256
    with pytest.raises(CommandRejected):
        verifier().verify(bytes(data), T0 + 1)


@FAST
@given(
    st.sampled_from(((",", ":"), (", ", ": "), (",", ": "))),
    st.booleans(),
    st.permutations(sorted(json.loads(GOLDEN))),
)
def test_the_same_envelope_spelled_otherwise_is_rejected(
    separators: tuple[str, str], indent: bool, order: list[str]
) -> None:
    obj = json.loads(GOLDEN)
    text = json.dumps({k: obj[k] for k in order}, separators=separators, indent=indent or None)
    if text.encode() == GOLDEN:
        return
    assert rejected(verifier(), text.encode()).message == "envelope is not in canonical form"


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@FAST
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_garbage_only_ever_raises_command_rejected(payload: bytes) -> None:
    with pytest.raises(CommandRejected):
        verifier().verify(payload, T0 + 1)


@FAST
@given(
    st.fixed_dictionaries(
        dict.fromkeys(("v", "command", "issuer", "issued_at", "nonce", "expires_at"), json_values)
    ),
    st.text(max_size=90),
)
def test_envelope_shaped_garbage_only_raises_command_rejected(
    fields: dict[str, object], sig: str
) -> None:
    payload = json.dumps({**fields, "sig": sig}, sort_keys=True, separators=(",", ":"))
    with pytest.raises(CommandRejected):
        verifier().verify(payload.encode(), T0 + 1)
