"""The SMS PDU codec (drivers.modem.pdu) against the public vectors and the simulator's own codec."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.modem.errors import PduError
from drivers.modem.pdu import DeliverPdu, SubmitPdu, decode_deliver, encode_submit, parts_needed
from tests.support.modemsim import SubmitDecoded, decode_submit, encode_deliver

# Public examples (docs: /work/shared/protocols/SMS.md, checked there with an independent codec)
SUBMIT_VECTOR = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
DELIVER_VECTOR = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
CST = timezone(timedelta(hours=8))


def sim_decode_all(pdus: list[SubmitPdu]) -> tuple[str, str]:
    """Reassemble with the simulator's decoder; checks the parts' headers and lengths on the way."""
    decoded = [decode_submit(p.hex) for p in pdus]
    for p, d in zip(pdus, decoded, strict=True):
        assert d.tpdu_length == p.tpdu_length == len(p.hex) // 2 - 1
        assert p.hex == p.hex.upper() and p.hex.startswith("00")
    if len(decoded) == 1:
        assert decoded[0].concat is None
    else:
        refs = {d.concat[0] for d in decoded if d.concat}
        assert len(refs) == 1
        ref = refs.pop()
        assert [d.concat for d in decoded] == [(ref, len(decoded), i + 1) for i in range(len(decoded))]
    assert len({d.number for d in decoded}) == 1
    return decoded[0].number, "".join(d.text for d in decoded)


def test_submit_vector_whole_object() -> None:
    assert encode_submit("+46708251358", "hellohello", reference=0) == [
        SubmitPdu(hex=SUBMIT_VECTOR, tpdu_length=23)
    ]


def test_simulator_submit_decoder_reads_the_public_vector() -> None:
    assert decode_submit(SUBMIT_VECTOR) == SubmitDecoded("+46708251358", "hellohello", None, 23)


def test_deliver_vector_whole_object() -> None:
    assert decode_deliver(DELIVER_VECTOR) == DeliverPdu(
        sender="+31641600986",
        text="How are you?",
        timestamp=datetime(2002, 8, 26, 19, 37, 41, tzinfo=UTC),
        concat=None,
    )


def test_simulator_deliver_encoder_reproduces_the_public_vector() -> None:
    parts = encode_deliver(
        "+31641600986",
        "How are you?",
        reference=0,
        when=datetime(2002, 8, 26, 19, 37, 41, tzinfo=UTC),
        smsc="+31624000000",
        tz_negative=True,
    )
    assert [p.pdu for p in parts] == [DELIVER_VECTOR]


def test_national_number_uses_toa_81_and_international_91_also_for_00() -> None:
    [p] = encode_submit("13800000001", "1", reference=0)
    assert p.hex[6:10] == "0B81"
    [q] = encode_submit("+86 138-0000-0001", "1", reference=0)
    assert q.hex[6:10] == "0D91"
    assert decode_submit(q.hex).number == "+8613800000001"
    [r] = encode_submit("008613800000001", "1", reference=0)
    assert r == q


@pytest.mark.parametrize("bad", ["", "+", "12a4", "+86 138 0000 000x", "1" * 21])
def test_bad_numbers_raise_pdu_error(bad: str) -> None:
    with pytest.raises(PduError) as e:
        encode_submit(bad, "hi", reference=1)
    assert e.value.category == "malformed"


def test_chinese_is_ucs2_70_in_one_part() -> None:
    text = "张奶奶按了紧急呼叫" * 7 + "回复1表示收到"  # 63 + 7 = 70 characters
    assert len(text) == 70
    [p] = encode_submit("+8613800000001", text, reference=7)
    assert p.hex[26:28] == "08"  # TP-DCS UCS-2 (after a 13-digit TP-DA and TP-PID)
    assert sim_decode_all([p]) == ("+8613800000001", text)
    assert parts_needed(text) == 1


def test_chinese_71_characters_is_two_parts_of_67_and_4() -> None:
    text = "紧" * 71
    parts = encode_submit("+8613800000001", text, reference=0x1FF)
    assert len(parts) == parts_needed(text) == 2
    d = [decode_submit(p.hex) for p in parts]
    assert [len(x.text) for x in d] == [67, 4]
    assert [x.concat for x in d] == [(0xFF, 2, 1), (0xFF, 2, 2)]  # 8-bit reference: reference & 0xFF
    assert parts[0].tpdu_length == 2 + 8 + 4 + 1 + 6 + 134  # header octets, DA, PID/DCS/VP/UDL, UD
    assert sim_decode_all(parts) == ("+8613800000001", text)


def test_gsm7_160_in_one_part_153_per_part_after() -> None:
    assert parts_needed("a" * 160) == 1
    parts = encode_submit("+46708251358", "a" * 161, reference=3)
    assert [len(decode_submit(p.hex).text) for p in parts] == [153, 8]
    assert parts[0].hex[24:26] == "00"
    assert parts_needed("a" * 306) == 2 and parts_needed("a" * 307) == 3


def test_gsm7_escape_characters_take_two_septets_and_are_never_split() -> None:
    text = "Price: 5€ [ok] {x} ~^|\\"
    [p] = encode_submit("+46708251358", text, reference=0)
    assert sim_decode_all([p])[1] == text
    assert parts_needed("€" * 80) == 1  # 160 septets
    assert parts_needed("€" * 81) == 2
    text = "a" * 152 + "€" + "b" * 10  # the escape pair would straddle septets 153/154
    parts = encode_submit("+46708251358", text, reference=0)
    assert [decode_submit(p.hex).text for p in parts] == ["a" * 152, "€" + "b" * 10]


def test_gsm7_specials_round_trip() -> None:
    text = "@£$¥èéùìòÇ\nØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà"
    [p] = encode_submit("+46708251358", text, reference=0)
    assert p.hex[24:26] == "00"
    assert sim_decode_all([p])[1] == text


def test_emoji_surrogate_pairs_are_not_split_across_parts() -> None:
    text = "好好" + "😀" * 40  # 2 + 80 UTF-16 units: the 67th unit is a high surrogate
    parts = encode_submit("+8613800000001", text, reference=9)
    texts = [decode_submit(p.hex).text for p in parts]  # a lone surrogate would not decode
    assert [len(t.encode("utf-16-be")) // 2 for t in texts] == [66, 16]
    assert "".join(texts) == text


def test_empty_text_is_one_empty_part() -> None:
    [p] = encode_submit("+8613800000001", "", reference=0)
    assert sim_decode_all([p])[1] == ""


def test_deliver_multipart_7bit_with_fill_bits_and_ucs2() -> None:
    when = datetime(2026, 3, 1, 9, 30, 5, tzinfo=CST)
    long7 = "OK, on my way. " * 12  # 180 septets: two parts with a 6-octet header + 1 fill bit
    parts = encode_deliver("+8613912345678", long7, reference=0x42, when=when)
    got = [decode_deliver(p.pdu) for p in parts]
    assert got[0] == DeliverPdu("+8613912345678", long7[:153], when, (0x42, 2, 1))
    assert got[1] == DeliverPdu("+8613912345678", long7[153:], when, (0x42, 2, 2))
    zh = "收到，我马上过去。" * 10
    parts = encode_deliver("13912345678", zh, reference=0x1234, when=when, sixteen_bit_ref=True)
    got = [decode_deliver(p.pdu) for p in parts]
    assert [g.concat for g in got] == [(0x1234, 2, 1), (0x1234, 2, 2)]
    assert "".join(g.text for g in got) == zh and got[0].sender == "13912345678"


def test_deliver_alphanumeric_sender_and_negative_zone() -> None:
    when = datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=3, minutes=45)))
    [p] = encode_deliver("ChinaMobile", "余额不足", reference=0, when=when)
    assert decode_deliver(p.pdu) == DeliverPdu("ChinaMobile", "余额不足", when, None)


def test_deliver_malformed_inputs_raise_pdu_error_with_a_category() -> None:
    cases = {
        "zz": "malformed",
        "": "truncated",
        DELIVER_VECTOR[:-4]: "truncated",
        "0001" + DELIVER_VECTOR[4:]: "unsupported",  # SMSC length 0, first octet 0x01: SMS-SUBMIT
    }
    for pdu, category in cases.items():
        with pytest.raises(PduError) as e:
            decode_deliver(pdu)
        assert e.value.category == category, pdu


def test_invalid_timestamp_gives_none_not_an_error() -> None:
    pdu = DELIVER_VECTOR.replace("20806291731408", "20F06291731408")
    assert decode_deliver(pdu).timestamp is None


NUMBERS = st.from_regex(r"\+?[0-9]{3,15}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(NUMBERS, st.text(max_size=400), st.integers(0, 0xFFFF))
def test_round_trip_through_the_simulators_decoder(number: str, text: str, ref: int) -> None:
    parts = encode_submit(number, text, reference=ref)
    assert len(parts) == parts_needed(text)
    assert all(p.tpdu_length <= 164 for p in parts)
    got_number, got_text = sim_decode_all(parts)
    assert got_number == ("+" + number[2:] if number.startswith("00") and len(number) > 2 else number)
    assert got_text == text
    if len(parts) > 1:
        assert decode_submit(parts[0].hex).concat == (ref & 0xFF, len(parts), 1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decode_random_bytes_only_raises_pdu_error(data: bytes) -> None:
    try:
        d = decode_deliver(data.hex())
    except PduError:
        return
    assert isinstance(d.text, str) and isinstance(d.sender, str)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.integers(0, 200), st.integers(0, 255), st.booleans())
def test_decode_mutated_real_pdus_only_raises_pdu_error(text: str, pos: int, value: int, cut: bool) -> None:
    pdu = bytes.fromhex(encode_deliver("+8613912345678", text, reference=1, when=datetime.now(CST))[0].pdu)
    i = pos % len(pdu)
    pdu = pdu[:i] if cut else pdu[:i] + bytes([value]) + pdu[i + 1 :]
    with contextlib.suppress(PduError):  # anything else fails the test
        decode_deliver(pdu.hex())
