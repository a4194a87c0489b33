//! Turns arbitrary test output into text an XML 1.0 file can carry.
//!
//! Test output is hostile input for a report: colour codes from pytest plugins,
//! NUL bytes from binary protocols, and `]]>` from anything that prints XML. One
//! such character makes the whole JUnit file unreadable to CI, so every string
//! bound for a report goes through here first.

/// Makes `text` safe for an XML 1.0 CDATA section and readable.
///
/// ANSI escape sequences are removed; characters XML 1.0 forbids or discourages
/// (control characters other than tab, newline and carriage return, DEL, the C1
/// controls, U+FFFE and U+FFFF) become a visible `#x1B`-style escape, as pytest's
/// `bin_xml_escape` does; `]]>` is split across two CDATA sections, because the
/// JUnit writer puts bodies in CDATA, so the reader still sees `]]>`.
///
/// `<`, `>`, `&` and quotes are left alone: the writer escapes them. For attribute
/// values use [`printable`], which does not split `]]>`.
pub fn for_xml(text: &str) -> String {
    printable(text).replace("]]>", "]]]]><![CDATA[>")
}

/// [`for_xml`] for attribute values and terminals: ANSI escapes removed,
/// control characters made visible, `]]>` left as it is.
///
/// Attribute values are escaped by the writer rather than put in CDATA, so a
/// split `]]>` would show up literally there; on a terminal a test's own escape
/// sequences would repaint leakhunt's output.
pub fn printable(text: &str) -> String {
    let stripped = strip_ansi(text);
    let mut out = String::with_capacity(stripped.len());
    for c in stripped.chars() {
        if is_xml_char(c) {
            out.push(c);
        } else {
            // The `#x..` form (no `&`) is pytest's: it is a visual hint for the
            // reader, not a character reference a parser would reject.
            let code = u32::from(c);
            if code <= 0xFF {
                out.push_str(&format!("#x{code:02X}"));
            } else {
                out.push_str(&format!("#x{code:04X}"));
            }
        }
    }
    out
}

/// `bytes` as text, each byte that is not UTF-8 written as the escape of the
/// surrogate Python's `surrogateescape` makes of it (`\udcff` for 0xFF): the
/// way test output and file names that are not UTF-8 show in every report,
/// alike whether they reached Rust as bytes or as a Python string.
pub fn undecodable_escaped(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(text, "\\udc{byte:02x}");
        }
    }
    text
}

/// Characters kept as they are. Stricter than XML 1.0's `Char`: DEL and the C1
/// controls are legal there but discouraged, invisible, and dropped by the
/// JUnit writer's own escape stripping, so they are escaped visibly too.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{7E}' | '\u{A0}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Removes ANSI escape sequences (ECMA-48 CSI, OSC and other control strings,
/// two-character escapes) and any ESC left over, keeping all other text.
pub fn strip_ansi(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != ESC {
            i += 1;
            continue;
        }
        out.push_str(&text[copied..i]);
        i = escape_end(bytes, i);
        copied = i;
    }
    out.push_str(&text[copied..]);
    out
}

const ESC: u8 = 0x1B;
const BEL: u8 = 0x07;

/// Index just past the escape sequence starting at `bytes[start] == ESC`.
///
/// Only ASCII bytes are ever consumed, so the result is always a char boundary.
fn escape_end(bytes: &[u8], start: usize) -> usize {
    let after_esc = start + 1;
    match bytes.get(after_esc) {
        Some(b'[') => csi_end(bytes, after_esc + 1),
        Some(b']' | b'P' | b'X' | b'^' | b'_') => {
            control_string_end(bytes, after_esc + 1).unwrap_or(after_esc)
        }
        Some(0x20..=0x2F) => {
            // nF escapes such as `ESC ( B`, which `tput sgr0` emits.
            let mut i = after_esc;
            while matches!(bytes.get(i), Some(0x20..=0x2F)) {
                i += 1;
            }
            if matches!(bytes.get(i), Some(0x30..=0x7E)) {
                i += 1;
            }
            i
        }
        Some(0x30..=0x7E) => after_esc + 1,
        // A lone ESC (at the end, or before text or a control character).
        _ => after_esc,
    }
}

/// End of a CSI sequence whose parameters start at `i`. A sequence cut short
/// (no final byte) ends where it stops being well-formed.
fn csi_end(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(0x30..=0x3F)) {
        i += 1;
    }
    while matches!(bytes.get(i), Some(0x20..=0x2F)) {
        i += 1;
    }
    if matches!(bytes.get(i), Some(0x40..=0x7E)) {
        i += 1;
    }
    i
}

/// End of an OSC/DCS/SOS/PM/APC string whose payload starts at `i`, ended by BEL
/// or ST (`ESC \`). `None` when it is not terminated on the same line: then only
/// the ESC is dropped, so a stray `ESC ]` cannot swallow the rest of a traceback.
fn control_string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    while let Some(&b) = bytes.get(i) {
        match b {
            BEL => return Some(i + 1),
            ESC if bytes.get(i + 1) == Some(&b'\\') => return Some(i + 2),
            ESC | b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// A file name as the harness writes it: an undecodable byte as the escape
/// of the surrogate `os.fsdecode` makes of it (`\udce9` for byte 0xE9), so
/// that both engines name such a file alike.
pub fn os_text(name: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    undecodable_escaped(name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_sgr_colours() {
        assert_eq!(
            strip_ansi("\x1b[31mFAILED\x1b[0m \x1b[1;32mok\x1b[m"),
            "FAILED ok"
        );
    }

    #[test]
    fn strips_other_csi_sequences() {
        assert_eq!(strip_ansi("a\x1b[2Kb\x1b[?25lc\x1b[10;20Hd"), "abcd");
    }

    #[test]
    fn strips_osc_with_bel_or_st() {
        assert_eq!(strip_ansi("\x1b]0;title\x07text"), "text");
        assert_eq!(
            strip_ansi("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\"),
            "link"
        );
    }

    #[test]
    fn unterminated_osc_drops_only_the_esc() {
        assert_eq!(strip_ansi("\x1b]0;title\nnext"), "]0;title\nnext");
    }

    #[test]
    fn strips_two_char_and_nf_escapes() {
        assert_eq!(strip_ansi("a\x1b(B\x1b[mb\x1bMc\x1b7d"), "abcd");
    }

    #[test]
    fn strips_lone_esc() {
        assert_eq!(strip_ansi("end\x1b"), "end");
        assert_eq!(strip_ansi("a\x1b\nb"), "a\nb");
        assert_eq!(strip_ansi("\x1b\x1b[1mx"), "x");
        assert_eq!(strip_ansi("a\x1bé"), "aé");
    }

    #[test]
    fn truncated_csi_keeps_following_text() {
        assert_eq!(strip_ansi("\x1b[31"), "");
        assert_eq!(strip_ansi("\x1b[31\nnext"), "\nnext");
    }

    #[test]
    fn strip_keeps_plain_text() {
        let text = "plain\ttext\r\nwith ünïcödé, 漢字 and 🐍 [brackets]";
        assert_eq!(strip_ansi(text), text);
    }

    #[test]
    fn undecodable_bytes_show_as_surrogate_escapes() {
        assert_eq!(
            undecodable_escaped(b"out \xff\xfe \xc3\xa9\n"),
            "out \\udcff\\udcfe é\n"
        );
        assert_eq!(undecodable_escaped(b"cut \xe2\x82"), "cut \\udce2\\udc82");
    }

    #[test]
    fn escapes_nul_and_vertical_tab() {
        assert_eq!(for_xml("a\0b\x0bc"), "a#x00b#x0Bc");
    }

    #[test]
    fn escapes_del_c1_and_nonchars() {
        assert_eq!(
            for_xml("\x7f\u{85}\u{9b}\u{fffe}\u{ffff}"),
            "#x7F#x85#x9B#xFFFE#xFFFF"
        );
    }

    #[test]
    fn keeps_tab_newline_carriage_return() {
        assert_eq!(for_xml("a\tb\r\nc\n"), "a\tb\r\nc\n");
    }

    #[test]
    fn keeps_unicode_and_emoji() {
        let text = "ünïcödé 漢字 🐍🔥 \u{a0}\u{fffd}\u{10ffff}";
        assert_eq!(for_xml(text), text);
    }

    #[test]
    fn leaves_markup_characters_to_the_writer() {
        assert_eq!(
            for_xml("<a href=\"x\">&amp;</a>"),
            "<a href=\"x\">&amp;</a>"
        );
    }

    #[test]
    fn splits_cdata_end() {
        assert_eq!(for_xml("x]]>y"), "x]]]]><![CDATA[>y");
        assert_eq!(for_xml("]]]>"), "]]]]]><![CDATA[>");
        assert_eq!(for_xml("]]>]]>"), "]]]]><![CDATA[>]]]]><![CDATA[>");
    }

    #[test]
    fn attribute_form_keeps_cdata_end() {
        assert_eq!(printable("x]]>y"), "x]]>y");
    }

    #[test]
    fn ansi_is_stripped_not_escaped() {
        assert_eq!(for_xml("\x1b[31mred\x1b[0m\0"), "red#x00");
    }

    #[test]
    fn escape_sequence_forming_cdata_end_is_still_split() {
        // Stripping runs first, so `]]` + colour code + `>` must not survive as `]]>`.
        assert_eq!(for_xml("]]\x1b[0m>"), "]]]]><![CDATA[>");
    }
}
