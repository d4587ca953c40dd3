"""Golden frames (STYLE.md #6): the exact tag commands the tag layer sends, one per line.

The tag is the byte-exact chip model behind the mock reader; ``tag.log`` records every frame
the chip received. Activation (REQA/anticollision/select) is not a frame in the log.
"""

from __future__ import annotations

import ndef

from drivers.emulated.chip import EmulatedTag
from drivers.ntag import Ntag21x

URI = "https://kvitto.example.se/t/abcdefghijkl"  # 40 characters


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_identify_sends_one_get_version(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    assert ntag.identify().name == "NTAG213"
    ntag.identify()  # cached: no second frame
    assert tag.log == [
        h("60"),  # GET_VERSION
    ]


def test_info_of_blank_ntag213_is_three_commands(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    info = ntag.info()
    assert info.product.name == "NTAG213"
    assert tag.log == [
        h("60"),  # GET_VERSION
        h("3C 00"),  # READ_SIG
        h("3A 02 2A"),  # FAST_READ pages 2-0x2A: lock bytes, CC, user memory, dyn lock, CFG
    ]


def test_info_of_ntag215_reads_state_in_two_fast_reads(on_reader):
    tag = EmulatedTag("NTAG215")
    ntag = on_reader(tag)
    ntag.info()
    assert tag.log == [
        h("60"),  # GET_VERSION
        h("3C 00"),  # READ_SIG
        h("3A 02 3D"),  # FAST_READ pages 2-0x3D: lock bytes, CC, first 58 user pages
        h("3A 82 84"),  # FAST_READ dynamic lock page 0x82, CFG0 0x83, CFG1 0x84
    ]


def test_read_ndef_of_written_tag(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    tag.log.clear()
    fresh = on_reader_again(ntag)
    content = fresh.read_ndef()
    assert [r.iri for r in content.records] == [URI]
    assert tag.log == [
        h("60"),  # GET_VERSION
        h("3A 02 2A"),  # FAST_READ pages 2-0x2A (CC, TLVs, message, lock and CFG pages)
    ]


def on_reader_again(ntag: Ntag21x) -> Ntag21x:
    """A new tag-layer object on the same reader (empty cache), after a re-select."""
    return Ntag21x(ntag.reader, ntag.reader.reselect())


def test_write_ndef_on_blank_ntag213_writes_the_commit_page_last(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    written = ntag.write_ndef([ndef.UriRecord(URI)])
    assert written == 11
    assert tag.log == [
        h("60"),  # GET_VERSION
        h("3A 02 2A"),  # FAST_READ pages 2-0x2A: CC, TLVs (Lock Control at page 4), locks
        h("A2 06 01 21 55 04"),  # WRITE page 6: record header D1 01 21 'U', https://
        h("A2 07 6B 76 69 74"),  # WRITE page 7: "kvit"
        h("A2 08 74 6F 2E 65"),  # WRITE page 8: "to.e"
        h("A2 09 78 61 6D 70"),  # WRITE page 9: "xamp"
        h("A2 0A 6C 65 2E 73"),  # WRITE page 10: "le.s"
        h("A2 0B 65 2F 74 2F"),  # WRITE page 11: "e/t/"
        h("A2 0C 61 62 63 64"),  # WRITE page 12: "abcd"
        h("A2 0D 65 66 67 68"),  # WRITE page 13: "efgh"
        h("A2 0E 69 6A 6B 6C"),  # WRITE page 14: "ijkl"
        h("A2 0F FE 00 00 00"),  # WRITE page 15: Terminator TLV
        h("A2 05 34 03 25 D1"),  # WRITE page 5 (commit): end of Lock TLV, NDEF TLV L=37
        h("3A 05 0F"),  # FAST_READ pages 5-15: verify what was written
    ]


def test_rewrite_of_a_non_empty_message_zeroes_the_length_first(on_reader):
    tag = EmulatedTag("NTAG215")
    ntag = on_reader(tag)
    ntag.write_ndef(ndef.TextRecord("hej hej", "sv"))
    tag.log.clear()
    ntag.write_ndef(ndef.TextRecord("hallå där", "sv"))
    assert tag.log == [
        h("A2 04 03 00 FE 01"),  # WRITE page 4 (commit) with L=0 and a terminator: empty
        h("A2 05 0E 54 02 73"),  # WRITE page 5: payload length 14, 'T', status 02, "s"
        h("A2 06 76 68 61 6C"),  # WRITE page 6: "v", "hal"
        h("A2 07 6C C3 A5 20"),  # WRITE page 7: "lå "
        h("A2 08 64 C3 A4 72"),  # WRITE page 8: "där"
        h("A2 09 FE 00 00 00"),  # WRITE page 9: Terminator TLV
        h("A2 04 03 12 D1 01"),  # WRITE page 4 (commit): NDEF TLV L=18, record header
        h("3A 04 09"),  # FAST_READ pages 4-9: verify
    ]


def test_lock_sequence_order_and_verify_after_reselect(on_reader):
    tag = EmulatedTag("NTAG213")
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    tag.log.clear()
    ntag.lock_permanently()
    assert tag.log == [
        h("A2 03 E1 10 12 0F"),  # WRITE page 3: CC with byte 3 = 0x0F (read-only)
        h("A2 28 FF 0F 3F 00"),  # WRITE page 0x28: dynamic lock bytes, lock everything
        h("A2 02 00 00 FF FF"),  # WRITE page 2: static lock bytes LOCK0 LOCK1 = FF FF
        h("A2 2A 40 00 00 00"),  # WRITE page 0x2A: CFG1 with CFGLCK (ACCESS bit 6)
        # (re-select: lock bits take effect on activation)
        h("3A 02 2A"),  # FAST_READ pages 2-0x2A: read back locks, CC, NDEF and CFG
    ]


def test_lock_keeps_other_cfg1_bits(on_reader):
    tag = EmulatedTag("NTAG213")
    tag.memory[0x2A * 4] = 0x10  # NFC_CNT_EN set before locking
    ntag = on_reader(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    tag.log.clear()
    ntag.lock_permanently()
    assert h("A2 2A 50 00 00 00") in tag.log  # WRITE CFG1: CFGLCK | NFC_CNT_EN
