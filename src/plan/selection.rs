//! Which collected tests run: node ids given on the command line, then `-k`.

use std::path::Path;

use anyhow::{bail, Result};

use crate::model::outcome::relative_path;
use crate::model::outcome::TestItem;
use crate::plan::discovery::Target;
use crate::plan::keyword::KeywordExpr;

/// The tests named on the command line, and those of them `-k` keeps.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Indices into the collection of the tests the paths and node ids name:
    /// what pytest reports as collected.
    pub collected: Vec<usize>,
    /// The subset that runs, in collection order.
    pub selected: Vec<usize>,
    /// Tests an engine that selects by itself (pytest) deselected before
    /// reporting its collection: they are counted as collected, not listed.
    pub deselected_before: usize,
}

/// Applies node ids and `-k`. A node id that matches no test is an error, as
/// with pytest.
pub fn select(
    tests: &[TestItem],
    targets: &[Target],
    rootdir: &Path,
    keyword: Option<&KeywordExpr>,
) -> Result<Selection> {
    let mut selection = Selection::default();
    let mut matched = vec![false; targets.len()];
    for (index, test) in tests.iter().enumerate() {
        let file = rootdir.join(&test.path);
        let mut wanted = false;
        for (t, target) in targets.iter().enumerate() {
            let hit = match &target.selector {
                None => file.starts_with(&target.path),
                Some(selector) => {
                    let prefix = format!("{}::{selector}", relative_path(rootdir, &target.path));
                    test.nodeid == prefix
                        || test.nodeid.starts_with(&format!("{prefix}::"))
                        || test.nodeid.starts_with(&format!("{prefix}["))
                }
            };
            if hit {
                matched[t] = true;
                wanted = true;
            }
        }
        if wanted {
            selection.collected.push(index);
            // pytest skips a file whole before -k is applied: it always counts.
            if test.is_skipped_file() || keyword.is_none_or(|k| k.matches(&test.keywords)) {
                selection.selected.push(index);
            }
        }
    }
    for (target, found) in targets.iter().zip(matched) {
        if !found && target.selector.is_some() {
            bail!("not found: {}", target.given);
        }
    }
    Ok(selection)
}
