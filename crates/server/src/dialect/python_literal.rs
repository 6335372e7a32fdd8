//! Just enough of Python's literal syntax to read `{'generated_code': '...'}`: a dict whose keys
//! are strings and whose values are strings or simple scalars, with Python's string escapes.
//! Anything outside that returns `None`, and the caller runs the text as given.

/// The dict's string-valued entries, in order; `None` when the text is not such a dict.
pub fn parse_str_dict(src: &str) -> Option<Vec<(String, String)>> {
    let mut cur = Cursor { rest: src };
    cur.skip_ws();
    cur.expect("{")?;
    let mut entries = Vec::new();
    loop {
        cur.skip_ws();
        if cur.eat("}") {
            break;
        }
        let key = cur.strings()?;
        cur.skip_ws();
        cur.expect(":")?;
        cur.skip_ws();
        if cur.starts_string() {
            entries.push((key, cur.strings()?));
        } else {
            cur.scalar()?;
        }
        cur.skip_ws();
        if !cur.eat(",") {
            cur.expect("}")?;
            break;
        }
    }
    cur.skip_ws();
    cur.rest.is_empty().then_some(entries)
}

struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, token: &str) -> Option<()> {
        self.eat(token).then_some(())
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.rest.chars().next()?;
        self.rest = &self.rest[c.len_utf8()..];
        Some(c)
    }

    /// The length of a string prefix (`r`, `u`, ...) and whether it makes the string raw, when
    /// a str literal starts here. Byte and f-strings are not plain text, so they do not count.
    fn string_prefix(&self) -> Option<(usize, bool)> {
        let letters = self.rest.find(['\'', '"'])?;
        match &self.rest[..letters] {
            "" | "u" | "U" => Some((letters, false)),
            "r" | "R" => Some((letters, true)),
            _ => None,
        }
    }

    fn starts_string(&self) -> bool {
        self.string_prefix().is_some()
    }

    /// One string literal, or several adjacent ones concatenated as Python does.
    fn strings(&mut self) -> Option<String> {
        let mut text = self.string()?;
        loop {
            let before = self.rest;
            self.skip_ws();
            if !self.starts_string() {
                self.rest = before;
                return Some(text);
            }
            text.push_str(&self.string()?);
        }
    }

    fn string(&mut self) -> Option<String> {
        let (prefix_len, raw) = self.string_prefix()?;
        self.rest = &self.rest[prefix_len..];
        let quote = &self.rest[..1];
        let triple = quote.repeat(3);
        let closing = if self.rest.starts_with(&triple) { triple.as_str() } else { quote };
        self.rest = &self.rest[closing.len()..];
        let mut text = String::new();
        loop {
            if self.eat(closing) {
                return Some(text);
            }
            match self.next_char()? {
                // In a raw string a backslash stays, and keeps the next character (even a
                // quote) from ending the string.
                '\\' if raw => {
                    text.push('\\');
                    text.push(self.next_char()?);
                }
                '\\' => self.escape(&mut text)?,
                '\n' if closing.len() == 1 => return None,
                c => text.push(c),
            }
        }
    }

    /// The escape after a backslash, as Python reads it in a str literal.
    fn escape(&mut self, text: &mut String) -> Option<()> {
        let c = self.next_char()?;
        let decoded = match c {
            '\n' => return Some(()), // a line continuation
            '\\' | '\'' | '"' => c,
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'v' => '\x0b',
            '0'..='7' => {
                let digits = 1 + self.rest.chars().take(2).take_while(|d| d.is_digit(8)).count();
                let code = u32::from_str_radix(&format!("{c}{}", &self.rest[..digits - 1]), 8);
                self.rest = &self.rest[digits - 1..];
                char::from_u32(code.ok()?)?
            }
            'x' => self.hex_char(2)?,
            'u' => self.hex_char(4)?,
            'U' => self.hex_char(8)?,
            // Named characters need Unicode's name table: not worth it, run the text as given.
            'N' => return None,
            // Python keeps unknown escapes as written (\d stays backslash-d).
            other => {
                text.push('\\');
                other
            }
        };
        text.push(decoded);
        Some(())
    }

    fn hex_char(&mut self, len: usize) -> Option<char> {
        let digits = self.rest.get(..len)?;
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        self.rest = &self.rest[len..];
        char::from_u32(u32::from_str_radix(digits, 16).ok()?)
    }

    /// A number, `True`, `False` or `None`: skipped, since only strings matter here.
    fn scalar(&mut self) -> Option<()> {
        let len = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')))
            .unwrap_or(self.rest.len());
        if len == 0 {
            return None;
        }
        self.rest = &self.rest[len..];
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(src: &str) -> Option<String> {
        let mut entries = parse_str_dict(src)?;
        assert_eq!(entries.len(), 1, "{src}");
        entries.pop().map(|(_, v)| v)
    }

    #[test]
    fn both_quote_styles_and_common_escapes() {
        assert_eq!(single(r#"{'k': 'print("hi")'}"#).unwrap(), r#"print("hi")"#);
        assert_eq!(single(r#"{"k": "it's"}"#).unwrap(), "it's");
        assert_eq!(single(r#"{'k': 'a\nb\tc\\d\'e\"f'}"#).unwrap(), "a\nb\tc\\d'e\"f");
        assert_eq!(single(r"{'k': '\x41\u00e9\U0001F600\101\0'}").unwrap(), "Aé😀A\0");
        assert_eq!(single(r"{'k': 'keep \d and \q'}").unwrap(), "keep \\d and \\q");
        assert_eq!(single("{'k': 'joined \\\nline'}").unwrap(), "joined line");
    }

    #[test]
    fn raw_triple_and_adjacent_strings() {
        assert_eq!(single(r"{'k': r'a\nb\'c'}").unwrap(), r"a\nb\'c");
        assert_eq!(single("{'k': '''line1\nline 'two'\n'''}").unwrap(), "line1\nline 'two'\n");
        assert_eq!(single("{'k': \"\"\"x\"\"\"}").unwrap(), "x");
        assert_eq!(single("{'k': 'a' \"b\"\n 'c'}").unwrap(), "abc");
        assert_eq!(single("{u'k': U'v'}").unwrap(), "v");
    }

    #[test]
    fn scalars_are_skipped_and_order_is_kept() {
        let entries = parse_str_dict("{'a': 1, 'b': 'x', 'c': True, 'd': -2.5e3, }").unwrap();
        assert_eq!(entries, vec![("b".to_string(), "x".to_string())]);
        assert_eq!(parse_str_dict("{}").unwrap(), vec![]);
    }

    #[test]
    fn anything_else_is_not_a_dict() {
        for bad in [
            "",
            "print(1)",
            "{'k': 'unterminated}",
            "{'k': 'new\nline'}",
            "{'k': b'bytes'}",
            "{'k': f'{x}'}",
            "{'k': ['list']}",
            "{'k': 'v'} trailing",
            "{'k' 'v'}",
            "{'k': 'v' 'w'",
            r"{'k': '\x4'}",
            r"{'k': '\N{DASH}'}",
            "{k: 'v'}",
        ] {
            assert_eq!(parse_str_dict(bad), None, "{bad:?}");
        }
    }
}
