"""Host-side NTAG 424 DNA crypto reproduces NXP's published worked examples byte for byte.

Every expected value is transcribed from AN12196 rev. 2.0 (table numbers of that
revision; rev. 1.x section numbers in docs/ntag424.md) or AN10922, never computed by the
code under test. docs/ntag424.md "Vectors" lists the same values with their source.
"""

from __future__ import annotations

import pytest

from drivers import ntag424_crypto as c
from drivers.ntag424_files import AccessRights, FileSettings, SdmSettings

h = bytes.fromhex
ZERO = bytes(16)

# AN12196 Table 14: AuthenticateEV2First with key 0x00.
T14_ENC_RND_B = h("A04C124213C186F22399D33AC2A30215")
T14_RND_B = h("B9E2FC789B64BF237CCCAA20EC7E6E48")
T14_RND_A = h("13C5DB8A5930439FC3DEF9A4C675360F")
T14_PART2 = h("35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D")
T14_ANSWER = h("3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120663")
T14_SV1 = h("A55A0001008013C56268A548D8FBBF237CCCAA20EC7E6E48C3DEF9A4C675360F")
T14_TI = h("9D00C4DF")
T14_ENC = h("1309C877509E5A215007FF0ED19CA564")
T14_MAC = h("4C6626F5E72EA694202139295C7A7FC7")

# AN12196 Table 23: AuthenticateEV2NonFirst with key 0x00 (session keys only).
T23_RND_B = h("6924E8D09722659A2E7DEC68E66312B8")
T23_RND_A = h("60BE759EDA560250AC57CDDC11743CF6")
T23_ENC_RND_B = h("A6A2B3C572D06C097BB8DB70463E22DC")
T23_PART2 = h("BE7D45753F2CAB85F34BC60CE58B940763FE969658A532DF6D95EA2773F6E991")
T23_ENC = h("4CF3CB41A22583A61E89B158D252FC53")
T23_MAC = h("5529860B2FC5FB6154B7F28361D30BF9")
T19_TI = h("7614281A")  # Table 19: the TI of the session Table 23 continues


def table14_session(ctr: int) -> c.Session:
    return c.Session(key_no=0, ti=T14_TI, enc_key=T14_ENC, mac_key=T14_MAC, cmd_ctr=ctr)


def table23_session(ctr: int) -> c.Session:
    return c.Session(key_no=0, ti=T19_TI, enc_key=T23_ENC, mac_key=T23_MAC, cmd_ctr=ctr)


def test_authenticate_ev2_first_reproduces_table_14() -> None:
    assert c.auth_part1_apdu(0) == h("9071000002000000")
    part2, rnd_b = c.auth_part2(ZERO, T14_ENC_RND_B, T14_RND_A)
    assert rnd_b == T14_RND_B
    assert part2 == T14_PART2
    assert c.session_vector(b"\xa5\x5a", T14_RND_A, T14_RND_B) == T14_SV1
    session = c.auth_finish_first(ZERO, 0, T14_RND_A, rnd_b, T14_ANSWER)
    assert (session.ti, session.enc_key, session.mac_key, session.cmd_ctr) == (
        T14_TI,
        T14_ENC,
        T14_MAC,
        0,
    )


def test_authentication_answer_with_another_rnd_a_is_refused() -> None:
    other = bytes([T14_RND_A[0] ^ 1]) + T14_RND_A[1:]
    with pytest.raises(c.Ntag424CryptoError, match="different key"):
        c.auth_finish_first(ZERO, 0, other, T14_RND_B, T14_ANSWER)


def test_authenticate_ev2_nonfirst_reproduces_table_23() -> None:
    part2, rnd_b = c.auth_part2(ZERO, T23_ENC_RND_B, T23_RND_A)
    assert rnd_b == T23_RND_B
    assert part2 == T23_PART2
    assert c.auth_session_keys(ZERO, T23_RND_A, T23_RND_B) == (T23_ENC, T23_MAC)


def test_write_data_full_reproduces_table_17() -> None:
    """WriteData of the NDEF file in CommMode.Full (CmdCtr 0 of Table 14's session)."""
    ndef = (
        h("0051D1014D550463686F6F73652E75726C2E636F6D2F6E7461673432343F653D")
        + b"0" * 32
        + b"&c="
        + b"0" * 16
    )
    data = ndef + bytes(0x80 - len(ndef))
    session = table14_session(0)
    assert session.iv_command() == h("D2CB7277A17841A06654A48188C1F8F5")
    header = h("02000000800000")
    apdu = c.native_apdu(0x8D, session.wrap_full(0x8D, header, data))
    enc = h(
        "421C73A27D827658AF481FDFF20A5025B559D0E3AA21E58D347F343CFFC768BF"
        "E596C706BC00F2176781D4B0242642A0FF5A42C461AAF894D9A1284B8C76BCFA"
        "658ACD40555D362E08DB15CF421B51283F9064BCBE20E96CAE545B407C9D651A"
        "3315B27373772E5DA2367D2064AE054AF996C6F1F669170FA88CE8C4E3A4A7BB"
        "BEF0FD971FF532C3A802AF745660F2B4"
    )
    assert apdu == h("908D00009F02000000800000") + enc + h("D1D9A8499661EBF3") + b"\x00"
    assert session.unwrap_response(h("FC222E5F7A542452")) == b""
    assert session.cmd_ctr == 1


def test_change_file_settings_for_sdm_reproduces_table_18() -> None:
    settings = FileSettings(
        comm_mode=0x00,
        access=AccessRights(read=0xE, write=0x0, read_write=0x0, change=0x0),
        sdm=SdmSettings(
            options=0xC1,
            ctr_ret=0x1,
            meta_read=0x2,
            file_read=0x1,
            picc_offset=0x20,
            mac_input_offset=0x43,
            mac_offset=0x43,
        ),
    )
    data = settings.encode_change()
    assert data == h("4000E0C1F121200000430000430000")
    assert FileSettings.decode_change(data) == settings
    session = table14_session(1)
    assert session.iv_command() == h("3E27082AB2ACC1EF55C57547934E9962")
    apdu = c.native_apdu(0x5F, session.wrap_full(0x5F, b"\x02", data))
    assert apdu == h("905F0000190261B6D97903566E84C3AE5274467E89EAD799B7C1A0EF7A0400")
    assert session.unwrap_response(h("57BFF87B1241E93D")) == b""


def test_get_file_settings_in_mac_mode_reproduces_table_7() -> None:
    mac_key = h("8248134A386E86EB7FAF54A52E536CB6")
    session = c.Session(key_no=0, ti=h("7A21085E"), enc_key=ZERO, mac_key=mac_key)
    assert c.native_apdu(0xF5, session.wrap_mac(0xF5, b"\x02")) == h(
        "90F5000009026597A457C8CD442C00"
    )
    data = h("0040EEEE000100D1FE001F00004400004400002000006A0000")
    assert session.unwrap_response(data + h("2A474282E7A47986")) == data
    settings, size = FileSettings.decode_get(data)
    assert size == 256
    assert settings.sdm is not None
    assert (settings.sdm.picc_offset, settings.sdm.mac_input_offset) == (0x1F, 0x44)
    assert (settings.sdm.enc_offset, settings.sdm.enc_length, settings.sdm.mac_offset) == (
        0x44,
        0x20,
        0x6A,
    )
    assert settings.encode_get(256) == data


def test_response_with_a_changed_mac_is_refused() -> None:
    session = table14_session(1)
    with pytest.raises(c.Ntag424CryptoError, match="MAC"):
        session.unwrap_response(h("57BFF87B1241E93C"))
    assert session.cmd_ctr == 1


def test_change_key_of_another_key_reproduces_table_25() -> None:
    new_key = h("F3847D627727ED3BC9C4CC050489B966")
    assert c.crc32_nk(new_key) == h("789DFADC")
    session = table23_session(2)
    assert session.iv_command() == h("307EDE1814707F30CFE603DD6CA62353")
    plain = c.change_key_plain(2, new_key, 0x01, auth_key_no=0, old_key=ZERO)
    apdu = c.change_key_apdu(session, 2, plain)
    assert apdu == h(
        "90C400002902"
        "2CF362B7BF4311FF3BE1DAA295E8C68DE09050560D19B9E16C2393AE9CD1FAC7"
        "5D0CE20BCD1D06E600"
    )
    assert session.unwrap_response(h("203BB55D1089D587")) == b""


def test_change_key_of_the_authenticated_key_reproduces_table_26() -> None:
    new_key = h("5004BF991F408672B1EF00F08F9E8647")
    session = table23_session(3)
    assert session.iv_command() == h("01602D579423B2797BE8B478B0B4D27B")
    plain = c.change_key_plain(0, new_key, 0x01, auth_key_no=0, old_key=None)
    apdu = c.change_key_apdu(session, 0, plain)
    assert apdu == h(
        "90C400002900"
        "C0EB4DEEFEDDF0B513A03A95A75491818580503190D4D05053FF75668A01D6FD"
        "A6610234BDED643200"
    )


def test_get_card_uid_full_response_reproduces_table_28() -> None:
    session = c.Session(
        key_no=0,
        ti=h("DF055522"),
        enc_key=h("2B4D963C014DC36F24F69A50A394F875"),
        mac_key=h("379D32130CE61705DD5FD8C36B95D764"),
    )
    assert c.native_apdu(0x51, session.wrap_mac(0x51, b"")) == h("90510000088E2C155ADDA99BE300")
    body = h("70756055688505B52A5E26E59E329CD6595F672298EA41B7")
    assert session.unwrap_response(body, full=True) == h("04958CAA5C5E80")


def test_an10922_aes128_diversification_example() -> None:
    """AN10922 section 2.2.1: master key, UID 04782E21801D80, AID 3042F5, SysID 'NXP Abu'."""
    master = h("00112233445566778899AABBCCDDEEFF")
    m = h("04782E21801D80") + h("3042F5") + b"NXP Abu"
    assert c.diversify_key(master, m) == h("A8DD63A3B89D54B37CA802473FDA9175")


def test_per_tag_keys_differ_by_uid_key_number_and_version() -> None:
    master = h("00112233445566778899AABBCCDDEEFF")
    uid = h("04958CAA5C5E80")
    base = c.tag_key(master, uid, 2, 1)
    assert base != c.tag_key(master, h("04958CAA5C5E81"), 2, 1)
    assert base != c.tag_key(master, uid, 1, 1)
    assert base != c.tag_key(master, uid, 2, 2)
    assert base == c.tag_key(master, uid, 2, 1)


def test_short_diversification_input_is_refused_not_computed_differently() -> None:
    with pytest.raises(ValueError):
        c.diversify_key(ZERO, b"short")
