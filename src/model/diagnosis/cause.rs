//! A leak's cause: what holds it and which types grow. Leaks of one cause
//! (327 tests growing one `WeakKeyDictionary`) are reported once, with their
//! tests. Pure Rust, from the diagnosis alone.

use super::Diagnosis;

/// One cause: a stable key (equal for every leak of it, in every worker and
/// run) and the text that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub key: String,
    pub text: String,
}

/// The cause of a diagnosed leak: the chains that hold its growing types
/// (indices and thread names left out: they differ from test to test), else
/// its descriptors and threads. None when the diagnosis found nothing.
pub fn cause_of(diagnosis: &Diagnosis) -> Option<Cause> {
    let mut parts: Vec<String> = diagnosis
        .types
        .iter()
        .filter_map(|t| Some(format!("{}: {}", t.name, general(t.held_by.as_deref()?))))
        .chain(
            diagnosis
                .in_place
                .iter()
                .filter_map(|g| Some(format!("{}: {}", g.name, general(g.held_by.as_deref()?)))),
        )
        .collect();
    let text = parts.first().cloned().or_else(|| {
        let fd = diagnosis.fds.first().map(|fd| {
            let owner = fd.owner.as_deref().unwrap_or("a descriptor no object owns");
            let at = fd
                .created
                .as_ref()
                .map_or(String::new(), |c| format!(" opened at {}", c.at()));
            format!("{owner}{at}")
        });
        let thread = diagnosis.threads.first().map(|t| {
            let at = t
                .started
                .as_ref()
                .map_or(String::new(), |c| format!(" started at {}", c.at()));
            format!("threads running {}{at}", t.target)
        });
        fd.or(thread)
    })?;
    parts.sort();
    parts.push(text.clone());
    Some(Cause {
        key: format!("{:016x}", fnv1a(parts.join("\n").as_bytes())),
        text,
    })
}

/// `module m -> KEPT (list) -> [280] -> m.Item` reads `... -> […] -> m.Item`.
fn general(chain: &str) -> String {
    let mut out = String::with_capacity(chain.len());
    let mut depth = 0usize;
    for c in chain.chars() {
        match c {
            '[' => {
                if depth == 0 {
                    out.push_str("[…]");
                }
                depth += 1;
            }
            ']' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// FNV-1a, 64 bits: a key that is the same in every process and release.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diagnosis::TypeGrowth;

    fn leak(chain: &str) -> Diagnosis {
        Diagnosis {
            types: vec![TypeGrowth {
                name: "m.Item".into(),
                count_per_run: 1.0,
                bytes_per_run: 56.0,
                tracked: true,
                held_by: Some(chain.into()),
            }],
            ..Diagnosis::default()
        }
    }

    #[test]
    fn leaks_held_by_the_same_chain_are_one_cause() {
        let a = cause_of(&leak("module m -> KEPT (list) -> [280] -> m.Item")).unwrap();
        let b = cause_of(&leak("module m -> KEPT (list) -> [17] -> m.Item")).unwrap();
        let c = cause_of(&leak("module m -> OTHER (list) -> [17] -> m.Item")).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.key, c.key);
        assert_eq!(a.text, "m.Item: module m -> KEPT (list) -> […] -> m.Item");
        assert_eq!(a.key.len(), 16);
    }

    #[test]
    fn nothing_found_is_no_cause() {
        assert_eq!(cause_of(&Diagnosis::default()), None);
    }
}
