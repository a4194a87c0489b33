//! The one place where strings from the interpreter become Rust strings.
//!
//! A Python `str` may hold what UTF-8 cannot: a lone surrogate, which is what
//! `os.fsdecode` makes of an undecodable byte in a file name and what any test
//! can put in an assertion message. pyo3 refuses to extract such a string
//! (`UnicodeEncodeError: ... surrogates not allowed`), and one such string in
//! a harness result used to end the whole session. Every result of a harness
//! call goes through [`crossable`] first, so that whatever a test wrote in it
//! crosses, with each surrogate shown as its escape (`\udc80`), as Python's
//! `backslashreplace` writes it.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

/// `value` with every string in it, also inside tuples, lists and dicts,
/// encodable as UTF-8. Values without such strings come back as they are,
/// without a copy; other objects are left to the extraction that follows.
pub fn crossable<'py>(value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = value.py();
    if let Ok(text) = value.cast::<PyString>() {
        if text.to_str().is_ok() {
            return Ok(value);
        }
        return text
            .call_method1("encode", ("utf-8", "backslashreplace"))?
            .call_method1("decode", ("utf-8",));
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        let items = crossed(tuple.iter())?;
        return match items {
            Some(items) => Ok(PyTuple::new(py, items)?.into_any()),
            None => Ok(value),
        };
    }
    if let Ok(list) = value.cast::<PyList>() {
        let items = crossed(list.iter())?;
        return match items {
            Some(items) => Ok(PyList::new(py, items)?.into_any()),
            None => Ok(value),
        };
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut changed = false;
        let mut pairs = Vec::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            let (new_key, new_item) = (crossable(key.clone())?, crossable(item.clone())?);
            changed |= !new_key.is(&key) || !new_item.is(&item);
            pairs.push((new_key, new_item));
        }
        if !changed {
            return Ok(value);
        }
        let copy = PyDict::new(py);
        for (key, item) in pairs {
            copy.set_item(key, item)?;
        }
        return Ok(copy.into_any());
    }
    Ok(value)
}

/// The crossed `items`, or None when every one came back as it was (the
/// container is then kept, not copied).
fn crossed<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
) -> PyResult<Option<Vec<Bound<'py, PyAny>>>> {
    let mut changed = false;
    let mut out = Vec::new();
    for item in items {
        let crossed = crossable(item.clone())?;
        changed |= !crossed.is(&item);
        out.push(crossed);
    }
    Ok(changed.then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sanitize::os_text;
    use std::ffi::CString;

    /// Evaluates a Python expression, crosses its value and extracts it as T.
    fn cross<T>(expression: &str) -> T
    where
        T: for<'a, 'py> FromPyObject<'a, 'py>,
    {
        Python::initialize();
        Python::attach(|py| {
            let code = CString::new(expression).unwrap();
            let value = py.eval(&code, None, None).unwrap();
            crossable(value)
                .unwrap()
                .extract::<T>()
                .map_err(Into::into)
                .unwrap()
        })
    }

    #[test]
    fn lone_surrogates_become_their_escape() {
        let text: String = cross(r#""bad \x1b[0m]]> chars \x0c \udc80""#);
        assert_eq!(text, "bad \x1b[0m]]> chars \x0c \\udc80");
        let text: String = cross(r#"b"caf\xe9.py".decode("utf-8", "surrogateescape")"#);
        assert_eq!(text, "caf\\udce9.py");
        let text: String = cross(r#""\ud83d\ude00 high then low, apart""#);
        assert_eq!(text, "\\ud83d\\ude00 high then low, apart");
    }

    #[test]
    fn undecodable_file_names_read_as_python_writes_them() {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9_\xff.py");
        assert_eq!(os_text(name), "caf\\udce9_\\udcff.py");
        let crossed: String = cross(r#"b"caf\xe9_\xff.py".decode("utf-8", "surrogateescape")"#);
        assert_eq!(os_text(name), crossed);
        assert_eq!(
            os_text(std::ffi::OsStr::new("plain/été.py")),
            "plain/été.py"
        );
    }

    #[test]
    fn results_that_utf8_can_hold_are_not_copied() {
        Python::initialize();
        Python::attach(|py| {
            let value = py
                .eval(c"('ok', ['é', 1], {'k': ('v', None)})", None, None)
                .unwrap();
            assert!(crossable(value.clone()).unwrap().is(&value));
        });
    }

    #[test]
    fn nested_results_cross_whole() {
        let result: (String, Vec<String>, Option<(String, i64)>) =
            cross(r#"("ok \udc80", ["\udcff", "plain"], ("\ud800", 3))"#);
        assert_eq!(
            result,
            (
                "ok \\udc80".to_owned(),
                vec!["\\udcff".to_owned(), "plain".to_owned()],
                Some(("\\ud800".to_owned(), 3))
            )
        );
        let map: std::collections::HashMap<String, Vec<String>> =
            cross(r#"{"k\udc80": ["v\udc81"], "plain": []}"#);
        assert_eq!(map["k\\udc80"], ["v\\udc81"]);
        assert!(map["plain"].is_empty());
    }

    /// Any string Python can hold crosses, and a string UTF-8 can hold crosses
    /// unchanged: generated strings of every kind of code point, NULs,
    /// escapes and surrogates among them, checked against Python's own
    /// `backslashreplace`.
    #[test]
    fn every_python_string_crosses() {
        Python::initialize();
        Python::attach(|py| {
            let make = CString::new(
                r#"
import random
def strings(seed, count):
    rng = random.Random(seed)
    pools = [(0, 0x20), (0x20, 0x7f), (0x7f, 0x100), (0xd800, 0xe000),
             (0xe000, 0x10000), (0x10000, 0x110000)]
    out = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randrange(0, 40)):
            low, high = rng.choice(pools)
            chars.append(chr(rng.randrange(low, high)))
        out.append("".join(chars))
    out.append("\0" * 3 + "\udc80" * 100_000 + "x" * 1_000_000)
    return out
"#,
            )
            .unwrap();
            let module = PyModule::from_code(py, &make, c"<gen>", c"gen").unwrap();
            let strings = module.call_method1("strings", (20261129, 2000)).unwrap();
            let crossed: Vec<String> = crossable(strings.clone()).unwrap().extract().unwrap();
            let originals: Vec<Bound<'_, PyString>> = strings.extract().unwrap();
            assert_eq!(crossed.len(), originals.len());
            for (original, crossed) in originals.iter().zip(&crossed) {
                let expected: String = original
                    .call_method1("encode", ("utf-8", "backslashreplace"))
                    .unwrap()
                    .call_method1("decode", ("utf-8",))
                    .unwrap()
                    .extract()
                    .unwrap();
                assert_eq!(crossed, &expected);
                if let Ok(valid) = original.to_str() {
                    assert_eq!(crossed, valid);
                }
            }
        });
    }
}
