"""The NTAG 424 DNA chip model answers AN12196's traces and the host tag layer end to end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers import sun
from drivers.emulated.ntag424 import ATS, Ntag424Chip
from drivers.ntag424 import (
    SUN_PARAMS,
    Ntag424,
    Ntag424Refused,
    ProvisionedSun,
    meta_key,
    provision_sun,
)
from drivers.ntag424_crypto import tag_key
from drivers.ntag424_files import FileSettings
from tests.support.sun_tags import BASE_URL, MASTER

h = bytes.fromhex


def provision(chip: Ntag424Chip, tagtamper: bool = False) -> ProvisionedSun:
    """Provision *chip* as a SUN tag under MASTER (key version 1), its test signature accepted."""
    return provision_sun(
        Ntag424(chip.transceive),
        BASE_URL,
        MASTER,
        1,
        tagtamper=tagtamper,
        reactivate=chip.power_on,
        accept_test_signature=True,
    )


def scripted(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks


def table14_chip() -> Ntag424Chip:
    """A chip whose random numbers are those of AN12196 Table 14 (RndB, then TI)."""
    randoms = scripted(h("B9E2FC789B64BF237CCCAA20EC7E6E48"), h("9D00C4DF"))
    chip = Ntag424Chip(uid=h("04958CAA5C5E80"), rng=lambda n: next(randoms))
    assert chip.transceive(h("00A4040C07D276000085010100")) == h("9000")  # Table 22
    return chip


def test_chip_answers_the_authentication_trace_of_table_14() -> None:
    chip = table14_chip()
    assert chip.transceive(h("9071000002000000")) == h("A04C124213C186F22399D33AC2A3021591AF")
    part2 = h("90AF00002035C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D00")
    assert chip.transceive(part2) == h(
        "3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F081206639100"
    )


def test_chip_answers_write_data_and_change_file_settings_of_tables_17_and_18() -> None:
    chip = table14_chip()
    chip.transceive(h("9071000002000000"))
    chip.transceive(
        h("90AF00002035C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D00")
    )
    enc = h(
        "421C73A27D827658AF481FDFF20A5025B559D0E3AA21E58D347F343CFFC768BF"
        "E596C706BC00F2176781D4B0242642A0FF5A42C461AAF894D9A1284B8C76BCFA"
        "658ACD40555D362E08DB15CF421B51283F9064BCBE20E96CAE545B407C9D651A"
        "3315B27373772E5DA2367D2064AE054AF996C6F1F669170FA88CE8C4E3A4A7BB"
        "BEF0FD971FF532C3A802AF745660F2B4"
    )
    write = h("908D00009F02000000800000") + enc + h("D1D9A8499661EBF300")
    assert chip.transceive(write) == h("FC222E5F7A5424529100")
    assert bytes(chip.files[2].data[:7]) == h("0051D1014D5504")
    cfs = h("905F0000190261B6D97903566E84C3AE5274467E89EAD799B7C1A0EF7A0400")
    assert chip.transceive(cfs) == h("57BFF87B1241E93D9100")
    sdm = chip.files[2].settings.sdm
    assert sdm is not None and (sdm.picc_offset, sdm.mac_offset) == (0x20, 0x43)


def test_chip_refuses_a_command_with_a_changed_mac_and_drops_the_session() -> None:
    chip = table14_chip()
    chip.transceive(h("9071000002000000"))
    chip.transceive(
        h("90AF00002035C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D00")
    )
    bad = h("905F0000190261B6D97903566E84C3AE5274467E89EAD799B7C1A0EF7A0500")
    assert chip.transceive(bad)[-2:] == h("911E")
    assert chip.session is None


def test_chip_mirrors_a_sun_message_with_the_settings_of_table_18() -> None:
    """Table 15's URL with Table 18's settings: each new tap verifies, counter +1 (keys 0)."""
    chip = Ntag424Chip()
    tag = Ntag424(chip.transceive)
    tag.select_application()
    session = tag.authenticate(0, bytes(16))
    tag.write_data_full(session, 2, 0, tag_ndef_of_table_15())
    settings = FileSettings.decode_change(h("4000E0C1F121200000430000430000"))
    tag.change_file_settings(session, 2, settings)
    params = sun.SunParams(picc="e", enc=None, mac="c")
    for expected in (1, 2):
        chip.power_on()
        url = tag.read_ndef_uri()
        assert url.startswith("https://choose.url.com/ntag424?e=")
        result = sun.verify_url(url, bytes(16), bytes(16), params)
        assert result.valid and result.uid == chip.uid and result.counter == expected


def tag_ndef_of_table_15() -> bytes:
    return h("0051D1014D550463686F6F73652E75726C2E636F6D2F6E7461673432343F653D") + (
        b"0" * 32 + b"&c=" + b"0" * 16
    )


def test_get_card_uid_and_file_settings_through_the_host_layer() -> None:
    chip = Ntag424Chip()
    tag = Ntag424(chip.transceive)
    tag.select_application()
    session = tag.authenticate(0, bytes(16))
    assert tag.get_card_uid(session) == chip.uid
    settings, size = tag.get_file_settings(session, 2)
    assert size == 256 and settings.sdm is None
    assert len(tag.get_version()) == 7 + 7 + 15
    assert chip.rats() == ATS


@pytest.mark.parametrize("tagtamper", [False, True])
def test_provisioning_a_factory_chip_makes_a_sun_tag_that_verifies(tagtamper: bool) -> None:
    chip = Ntag424Chip(tagtamper=tagtamper)
    done = provision(chip, tagtamper=tagtamper)
    assert done.uid == chip.uid and done.first_counter == 1
    # per-tag keys are the diversified ones, the factory key is gone
    assert chip.keys[2] == tag_key(MASTER, chip.uid, 2, 1)
    assert chip.keys[0] != bytes(16) and chip.key_versions == [1] * 5
    chip.power_on()
    url = Ntag424(chip.transceive).read_ndef_uri()
    params = sun.SunParams(picc="p", enc="e", mac="m", tamper_in_file_data=tagtamper)
    assert (SUN_PARAMS.picc, SUN_PARAMS.enc, SUN_PARAMS.mac) == ("p", "e", "m")
    result = sun.verify_url(url, meta_key(MASTER, 1), chip.keys[2], params)
    assert result.valid and result.counter == 3
    if tagtamper:
        assert result.tamper == {"latched": "closed", "current": "closed"}
        chip.open_tamper_loop()
        chip.power_on()
        opened = sun.verify_url(
            Ntag424(chip.transceive).read_ndef_uri(), meta_key(MASTER, 1), chip.keys[2], params
        )
        assert opened.valid and opened.tamper == {"latched": "open", "current": "open"}
        chip.close_tamper_loop()
        chip.power_on()
        closed = sun.verify_url(
            Ntag424(chip.transceive).read_ndef_uri(), meta_key(MASTER, 1), chip.keys[2], params
        )
        assert closed.tamper == {"latched": "open", "current": "closed"}
    else:
        assert result.tamper is None


def test_the_provisioned_file_cannot_be_rewritten_without_the_key() -> None:
    chip = Ntag424Chip()
    provision(chip)
    chip.power_on()
    tag = Ntag424(chip.transceive)
    tag.select_application()
    tag.select_file(0xE104)
    assert chip.transceive(h("00D6000003414243"))[-2:] == h("6982")
    assert chip.transceive(h("908D00000A02000000030000414243") + b"\x00")[-2:] == h("919D")


def test_a_chip_whose_factory_key_was_changed_is_refused() -> None:
    chip = Ntag424Chip()
    provision(chip)
    chip.power_on()
    with pytest.raises(Ntag424Refused):
        provision(chip)


def test_a_replayed_message_carries_the_same_counter() -> None:
    chip = Ntag424Chip()
    provision(chip)
    chip.power_on()
    url = Ntag424(chip.transceive).read_ndef_uri()
    again = Ntag424(chip.transceive).read_ndef_uri()  # same activation: same message
    assert url == again
    chip.power_on()
    later = sun.verify_url(
        Ntag424(chip.transceive).read_ndef_uri(), meta_key(MASTER, 1), chip.keys[2], SUN_PARAMS
    )
    first = sun.verify_url(url, meta_key(MASTER, 1), chip.keys[2], SUN_PARAMS)
    assert later.counter == first.counter + 1


def chip_in_session(ti: str, enc: str, mac: str, ctr: int, uid: str = "04958CAA5C5E80"):
    """A chip with an open session as given by AN12196 (keys, TI, CmdCtr of the table)."""
    from drivers.ntag424_crypto import Session

    chip = Ntag424Chip(uid=h(uid))
    chip.transceive(h("00A4040C07D276000085010100"))
    chip.session = Session(key_no=0, ti=h(ti), enc_key=h(enc), mac_key=h(mac), cmd_ctr=ctr)
    return chip


T23 = ("7614281A", "4CF3CB41A22583A61E89B158D252FC53", "5529860B2FC5FB6154B7F28361D30BF9")


def test_chip_answers_write_data_plain_then_change_key_of_tables_24_25_26() -> None:
    """Table 24 (CC file, CommMode.Plain, CmdCtr 1) steps the counter for Table 25 (2)."""
    chip = chip_in_session(*T23, ctr=1)
    t24 = h("908D000019010E0000120000FF0506E1050080828300000000000000000000")
    assert chip.transceive(t24) == h("9100")
    assert bytes(chip.files[1].data[0x0E:0x20]) == h("FF0506E10500808283000000000000000000")
    t25 = h(
        "90C400002902"
        "2CF362B7BF4311FF3BE1DAA295E8C68DE09050560D19B9E16C2393AE9CD1FAC7"
        "5D0CE20BCD1D06E600"
    )
    assert chip.transceive(t25) == h("203BB55D1089D5879100")
    assert chip.keys[2] == h("F3847D627727ED3BC9C4CC050489B966") and chip.key_versions[2] == 1
    t26 = h(
        "90C400002900"
        "C0EB4DEEFEDDF0B513A03A95A75491818580503190D4D05053FF75668A01D6FD"
        "A6610234BDED643200"
    )
    assert chip.transceive(t26) == h("9100")
    assert chip.keys[0] == h("5004BF991F408672B1EF00F08F9E8647") and chip.session is None


def test_chip_answers_get_card_uid_of_table_28() -> None:
    chip = chip_in_session(
        "DF055522", "2B4D963C014DC36F24F69A50A394F875", "379D32130CE61705DD5FD8C36B95D764", 0
    )
    assert chip.transceive(h("90510000088E2C155ADDA99BE300")) == h(
        "70756055688505B52A5E26E59E329CD6595F672298EA41B79100"
    )


def test_chip_answers_get_file_settings_in_mac_mode_of_table_7() -> None:
    data = h("0040EEEE000100D1FE001F00004400004400002000006A0000")
    chip = chip_in_session("7A21085E", "00" * 16, "8248134A386E86EB7FAF54A52E536CB6", 0)
    chip.files[2].settings, _ = FileSettings.decode_get(data)
    assert chip.transceive(h("90F5000009026597A457C8CD442C00")) == data + h("2A474282E7A479869100")


def test_read_sig_gives_a_signature_that_verifies_plain_and_in_full_mode() -> None:
    from drivers.signature import NTAG424_KEY, Verdict, verify_signature_424

    chip = Ntag424Chip()
    tag = Ntag424(chip.transceive)
    plain = tag.read_sig()
    assert verify_signature_424(chip.uid, plain) is Verdict.TEST_KEY
    tag.select_application()
    assert tag.read_sig(tag.authenticate(0, bytes(16))) == plain
    assert len(NTAG424_KEY) == 2 * 57


def test_nxp_424_public_key_verifies_published_signatures() -> None:
    """Two NTAG 424 DNA UID/signature pairs published with proxmark3's recover_pk.py."""
    from drivers.signature import Verdict, verify_signature_424

    sig = h(
        "27E9A50E6CA4BA9037C02F7D20A80D0284D0C1D83C67F5A5AC1D8A4EF86C9508"
        "417E4E9C6F85AA7920F0ABDED984CAF20467D66EA54BBF08"
    )
    assert verify_signature_424(h("0463474AA26A80"), sig) is Verdict.NXP
    assert verify_signature_424(h("0463474AA26A81"), sig) is Verdict.INVALID


def test_a_chip_with_an_invalid_signature_is_refused_before_any_write() -> None:
    chip = Ntag424Chip(signature=bytes(range(56)))
    with pytest.raises(Ntag424Refused, match="originality signature invalid"):
        provision(chip)
    assert chip.keys == [bytes(16)] * 5 and not any(chip.files[2].data)


def test_authenticate_nonfirst_keeps_ti_and_counter_and_switches_keys() -> None:
    chip = Ntag424Chip()
    tag = Ntag424(chip.transceive)
    tag.select_application()
    first = tag.authenticate(0, bytes(16))
    assert tag.get_card_uid(first) == chip.uid  # CmdCtr 0 -> 1
    second = tag.authenticate_nonfirst(first, 2, bytes(16))
    assert (second.ti, second.cmd_ctr, second.key_no) == (first.ti, 1, 2)
    assert second.enc_key != first.enc_key
    assert tag.get_card_uid(second) == chip.uid  # the chip moved to the same keys
