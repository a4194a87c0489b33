//! A leak's cause: what holds it and which types grow. Leaks of one cause
//! (327 tests growing one `WeakKeyDictionary`) are reported once, with their
//! tests. Pure Rust, from the diagnosis alone.

use super::Diagnosis;
use crate::model::signal::Signal;

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
    let growing: Vec<&str> = diagnosis
        .types
        .iter()
        .map(|t| t.name.as_str())
        .chain(diagnosis.in_place.iter().map(|g| g.name.as_str()))
        .collect();
    // A weak reference keeps nothing alive: it names the cause only when
    // nothing else has a chain (a class's entry in its base's table of
    // subclasses lives as long as the class).
    let first = parts
        .iter()
        .find(|part| !held_while_something_else_lives(part))
        .or(parts.first())
        .map(|part| outermost(part, &growing).unwrap_or(part.clone()));
    let text = first.or_else(|| {
        let fd = diagnosis.fds.first().map(|fd| {
            if let (Some(owner), Some(chain)) = (&fd.owner, &fd.held_by) {
                return format!("{owner}: {}", general(chain));
            }
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

/// The causes one worker diagnosed in full, each with its first test. A
/// later leak that may have one of them gets a check (the first runs of its
/// pass) instead of a full diagnosis when the check shows that cause.
#[derive(Debug, Default)]
pub struct KnownCauses {
    causes: Vec<Known>,
    /// Where the causes diagnosed so far hold their largest type, checked
    /// or not: a later diagnosis looks down from these first.
    starts: Vec<Root>,
}

/// Globals kept in `KnownCauses::starts`, at most.
const MAX_STARTS: usize = 16;

#[derive(Debug)]
struct Known {
    key: String,
    /// Node id of the test diagnosed in full with it.
    first: String,
    /// The growing types its key is made of (all held by a chain).
    types: Vec<String>,
    /// One of them is gc-tracked; one is not (found among referents).
    tracked: bool,
    untracked: bool,
    /// Its diagnosis had leaked descriptors / threads.
    fds: bool,
    threads: bool,
    /// The module's global (or class attribute there) where the chain of
    /// its largest type starts.
    root: Root,
}

/// A global of a module that holds a known cause's objects, and how many
/// steps of referents away from it they are at most. A check looks there
/// first: the objects of a leak of that cause are reachable from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub module: String,
    /// `NAME` or `Class.attribute`.
    pub global: String,
    pub depth: usize,
    /// The type whose objects it holds.
    pub type_name: String,
}

impl Root {
    /// `module m -> KEPT (list) -> [280] -> m.Item` starts at `m.KEPT`.
    fn of(type_name: &str, chain: &str) -> Option<Root> {
        let mut parts = chain.split(" -> ");
        let module = parts.next()?.strip_prefix("module ")?;
        let first = parts.next()?;
        let global = match first.rsplit_once(" (") {
            Some((label, _)) if first.ends_with(')') => label,
            _ => first,
        };
        let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
        let dotted = match global.split_once('.') {
            Some((a, b)) => plain(a) && plain(b),
            None => plain(global),
        };
        if !dotted {
            return None;
        }
        Some(Root {
            module: module.to_string(),
            global: global.to_string(),
            // One step a hop, and one more for an instance's __dict__.
            depth: parts.count() + 1,
            type_name: type_name.to_string(),
        })
    }
}

impl KnownCauses {
    /// Remembers the cause of a full diagnosis that finished. Only a cause
    /// whose largest growing type is held from a module's global can be
    /// checked: one made of containers grown in place, descriptors or
    /// threads alone, or held from elsewhere, is not remembered.
    pub fn remember(&mut self, diagnosis: &Diagnosis, nodeid: &str) {
        if diagnosis.note.is_some() || diagnosis.same_cause_as.is_some() {
            return;
        }
        let Some(cause) = cause_of(diagnosis) else {
            return;
        };
        let held: Vec<_> = diagnosis
            .types
            .iter()
            .filter(|t| t.held_by.is_some())
            .collect();
        // A check is worth its runs only where a leak of another cause is
        // told from it cheaply: by its module global not reaching the new
        // objects. A cause held elsewhere (a registry of the interpreter's, a
        // thread's frame) is diagnosed in full every time.
        let root = held
            .first()
            .and_then(|t| Root::of(&t.name, t.held_by.as_deref()?));
        let Some(root) = root else {
            return;
        };
        if self.starts.len() < MAX_STARTS && !self.starts.contains(&root) {
            self.starts.push(root.clone());
        }
        if !diagnosis.in_place.is_empty() || self.causes.iter().any(|k| k.key == cause.key) {
            return;
        }
        self.causes.push(Known {
            key: cause.key,
            first: nodeid.to_string(),
            types: held.iter().map(|t| t.name.clone()).collect(),
            tracked: held.iter().any(|t| t.tracked),
            untracked: held.iter().any(|t| !t.tracked),
            fds: !diagnosis.fds.is_empty(),
            threads: !diagnosis.threads.is_empty(),
            root,
        });
    }

    /// Where the causes diagnosed so far hold their largest type.
    pub fn starts(&self) -> &[Root] {
        &self.starts
    }

    /// The known causes a leak whose judged runs grew these signals could
    /// have: a cause of gc-tracked types needs the objects to have grown,
    /// and leaked descriptors or threads go with causes that had them.
    fn candidates<'a>(&'a self, grew: &'a [Signal]) -> impl Iterator<Item = &'a Known> + 'a {
        let has = move |signal| grew.contains(&signal);
        self.causes.iter().filter(move |k| {
            (!k.tracked || has(Signal::Objects))
                && k.fds == has(Signal::Fds)
                && k.threads == has(Signal::Threads)
        })
    }

    /// Is a check worth its runs? None: no known cause is plausible, the
    /// full pass runs as for a first leak. Else whether the check must look
    /// for growing objects the gc does not track too, and the roots of the
    /// plausible causes for it to look from.
    pub fn plausible(&self, grew: &[Signal]) -> Option<(Untracked, Vec<Root>)> {
        let candidates: Vec<&Known> = self.candidates(grew).collect();
        if candidates.is_empty() {
            return None;
        }
        let mut roots: Vec<Root> = Vec::new();
        for root in candidates.iter().map(|k| &k.root) {
            if !roots.contains(root) {
                roots.push(root.clone());
            }
        }
        Some((Untracked(candidates.iter().any(|k| k.untracked)), roots))
    }

    /// May a plausible known cause be the one of a leak whose check saw
    /// these types grow most (`top`, largest first, the types a diagnosis
    /// searches chains for)? Only when its largest type is theirs, its other
    /// types are among them and its root may reach the new objects
    /// (`unreached`: the roots that do not) is the check finished (census,
    /// referrer chains); otherwise the pass goes on.
    pub fn may_match(&self, grew: &[Signal], top: &[String], unreached: &[Root]) -> bool {
        self.candidates(grew).any(|k| {
            k.types.first() == top.first()
                && k.types.iter().all(|t| top.contains(t))
                && !unreached.contains(&k.root)
        })
    }

    /// The first test of the known cause the check `diagnosis` found, if
    /// any. A check that could not finish matches nothing.
    pub fn matching(&self, diagnosis: &Diagnosis) -> Option<&str> {
        if diagnosis.note.is_some() {
            return None;
        }
        let cause = cause_of(diagnosis)?;
        self.causes
            .iter()
            .find(|k| k.key == cause.key)
            .map(|k| k.first.as_str())
    }
}

/// `part` ("type: chain") holds its type only as long as something else
/// keeps another object alive: it is a weak reference, or its chain goes
/// through a key of a `WeakValueDictionary`, whose entry goes with its
/// value. loguru's handlers with `enqueue=True` register a callback in
/// multiprocessing's `_afterfork_registry`, keyed by a tuple that holds the
/// callback, and the cause named that registry, not the thread and the
/// handler that keep the value.
fn held_while_something_else_lives(part: &str) -> bool {
    part.starts_with("weakref.")
        || part.contains("(weakref.WeakValueDictionary) -> .data (dict) -> (key)")
}

/// Whether a check must also look for growing objects the gc does not track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Untracked(pub bool);

/// `module m -> KEPT (list) -> [280] -> m.Item` reads `... -> […] -> m.Item`.
/// `part` ("type: chain") named by the outermost other type that grows on
/// its chain, when one is a module's class: a thread whose lock's deque is
/// the largest object below it, an image whose `.info` dict is (Pillow
/// keeps the pixels in C). A builtin container on the way (a dict, a list)
/// is how the user's object holds what leaks, not a name for it.
fn outermost(part: &str, growing: &[&str]) -> Option<String> {
    let (name, chain) = part.split_once(": ")?;
    let (at, owner) = growing
        .iter()
        .filter(|other| **other != name && other.contains('.') && !other.starts_with("weakref."))
        .filter_map(|other| Some((chain.find(&format!(" ({other}) -> "))?, *other)))
        .min()?;
    let above = chain[..at].trim_end_matches(" ->");
    Some(format!("{owner}: {above} -> {owner}"))
}

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
            types: vec![growing("m.Item", 56.0, Some(chain))],
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

    fn growing(name: &str, bytes: f64, chain: Option<&str>) -> TypeGrowth {
        TypeGrowth {
            name: name.into(),
            count_per_run: 1.0,
            bytes_per_run: bytes,
            tracked: true,
            held_by: chain.map(Into::into),
        }
    }

    /// The cause when the largest type, last on `chain`, is held by it, and
    /// `others` grow beside it with no chain of their own.
    fn cause_text(chain: &str, others: &[&str]) -> String {
        let name = chain.rsplit(" -> ").next().unwrap_or(chain);
        let mut types = vec![growing(name, 64.0, Some(chain))];
        types.extend(others.iter().map(|other| growing(other, 48.0, None)));
        cause_of(&Diagnosis {
            types,
            ..Diagnosis::default()
        })
        .unwrap()
        .text
    }

    #[test]
    fn the_cause_names_the_outermost_class_that_grows_on_the_chain() {
        // Pillow keeps an image's pixels in C: its `.info` dict is the
        // largest Python object a run, and the cause named the dict.
        assert_eq!(
            cause_text(
                "module t -> _held (list) -> [3] (PIL.Image.Image) -> .info -> dict",
                &["PIL.Image.Image"]
            ),
            "PIL.Image.Image: module t -> _held (list) -> […] -> PIL.Image.Image"
        );
        // A hop without a label, and the outermost of two classes.
        assert_eq!(
            cause_text(
                "module m -> (m.Outer) -> .inner (m.Inner) -> .leaf -> m.Leaf",
                &["m.Inner", "m.Outer"]
            ),
            "m.Outer: module m -> m.Outer"
        );
        // A builtin container on the way is how the class holds what leaks.
        assert_eq!(
            cause_text(
                "module m -> CACHE (dict) -> [1] (dict) -> ['x'] -> m.Item",
                &["dict"]
            ),
            "m.Item: module m -> CACHE (dict) -> […] (dict) -> […] -> m.Item"
        );
    }

    #[test]
    fn a_chain_through_a_weak_value_dictionarys_key_names_the_cause_last() {
        // Recorded on loguru 0.7.3 (a handler with enqueue=True, never
        // removed): the largest type's chain went through a key of
        // multiprocessing's _afterfork_registry.
        let registry = "module multiprocessing.util -> _afterfork_registry \
                        (weakref.WeakValueDictionary) -> .data (dict) -> (key) -> tuple";
        let thread = "module threading -> _active (dict) -> ['loguru-writer-84'] \
                      (threading.Thread) -> ._target (method) -> .__self__ \
                      (loguru._handler.Handler) -> .acquire -> builtin_function_or_method";
        let diagnosis = Diagnosis {
            types: vec![
                growing("tuple", 72.0, Some(registry)),
                growing("builtin_function_or_method", 72.0, Some(thread)),
            ],
            ..Diagnosis::default()
        };
        assert_eq!(
            cause_of(&diagnosis).map(|cause| cause.text),
            Some(
                "builtin_function_or_method: module threading -> _active (dict) -> […] \
                 (threading.Thread) -> ._target (method) -> .__self__ \
                 (loguru._handler.Handler) -> .acquire -> builtin_function_or_method"
                    .to_string()
            )
        );
        // Alone, it still names the cause.
        let alone = Diagnosis {
            types: vec![growing("tuple", 72.0, Some(registry))],
            ..Diagnosis::default()
        };
        assert!(cause_of(&alone).is_some_and(|cause| cause.text.contains("_afterfork_registry")));
    }

    #[test]
    fn a_known_cause_is_checked_only_where_it_may_be() {
        use crate::model::diagnosis::LeakedThread;
        let mut known = KnownCauses::default();
        assert_eq!(known.plausible(&[Signal::Objects]), None);
        known.remember(&leak("module m -> KEPT (list) -> [3] -> m.Item"), "t::a");
        known.remember(&leak("module m -> KEPT (list) -> [9] -> m.Item"), "t::b");
        // Nothing found, or a pass that did not finish: nothing to check against.
        known.remember(&Diagnosis::default(), "t::c");
        let unfinished = Diagnosis {
            note: Some("ran out of time".into()),
            ..leak("module m -> OTHER (list) -> [1] -> m.Item")
        };
        known.remember(&unfinished, "t::d");
        assert_eq!(known.causes.len(), 1);
        // Held by a registry of the interpreter's: not told apart cheaply.
        known.remember(
            &leak("atexit callbacks (atexit.register) -> m.Item"),
            "t::f",
        );
        assert_eq!(known.causes.len(), 1);

        let objects = [Signal::Objects, Signal::Blocks, Signal::Bytes];
        let root = Root {
            module: "m".into(),
            global: "KEPT".into(),
            depth: 3,
            type_name: "m.Item".into(),
        };
        assert_eq!(
            known.plausible(&objects),
            Some((Untracked(false), vec![root.clone()]))
        );
        // No objects grew, or a thread did: not this cause of tracked objects.
        assert_eq!(known.plausible(&[Signal::Blocks, Signal::Bytes]), None);
        assert_eq!(known.plausible(&[Signal::Objects, Signal::Threads]), None);
        let top = ["m.Item".to_string(), "list".to_string()];
        assert!(known.may_match(&objects, &top, &[]));
        // Not reached from its root: another cause.
        assert!(!known.may_match(&objects, &top, &[root]));
        assert!(!known.may_match(&objects, &["list".into(), "m.Item".into()], &[]));
        assert!(!known.may_match(&objects, &["list".into()], &[]));

        let same = leak("module m -> KEPT (list) -> [40] -> m.Item");
        assert_eq!(known.matching(&same), Some("t::a"));
        let other = leak("module m -> OTHER (list) -> [40] -> m.Item");
        assert_eq!(known.matching(&other), None);
        let unfinished = Diagnosis {
            note: Some("ran out of time".into()),
            ..same
        };
        assert_eq!(known.matching(&unfinished), None);

        let mut thread = leak("module threading -> _active (dict) -> [1] -> m.Item");
        thread.threads.push(LeakedThread {
            name: "Thread-3".into(),
            target: "m.wait".into(),
            started: None,
        });
        known.remember(&thread, "t::e");
        let (untracked, roots) = known
            .plausible(&[Signal::Objects, Signal::Threads])
            .unwrap();
        assert_eq!(untracked, Untracked(false));
        assert_eq!(roots[0].global, "_active");
        assert_eq!(
            Root::of(
                "m.Order",
                "module m -> Order.registry (list) -> [17] -> m.Order"
            )
            .map(|r| r.global),
            Some("Order.registry".to_string())
        );
        assert_eq!(
            Root::of("function", "atexit callbacks (atexit.register) -> function"),
            None
        );
    }

    /// click's streams leak with their encoding's name, a str the gc does
    /// not track: such a cause is remembered, and its check also counts the
    /// untracked objects the new ones refer to.
    #[test]
    fn a_cause_with_untracked_objects_is_checked_for_them() {
        let mut known = KnownCauses::default();
        let mut diagnosis = leak("module m -> KEPT (list) -> [3] -> m.Item");
        diagnosis.types.push(TypeGrowth {
            name: "str".into(),
            count_per_run: 1.0,
            bytes_per_run: 54.0,
            tracked: false,
            held_by: Some("module m -> KEPT (list) -> [3] (m.Item) -> .name -> str".into()),
        });
        known.remember(&diagnosis, "t::a");
        let objects = [Signal::Objects, Signal::Blocks, Signal::Bytes];
        let (untracked, roots) = known.plausible(&objects).unwrap();
        assert_eq!(untracked, Untracked(true));
        assert_eq!(roots[0].global, "KEPT");
        let top = ["m.Item".to_string(), "str".to_string()];
        assert!(known.may_match(&objects, &top, &[]));
        assert!(!known.may_match(&objects, &top[..1], &[]));
    }

    #[test]
    fn nothing_found_is_no_cause() {
        assert_eq!(cause_of(&Diagnosis::default()), None);
    }
}
