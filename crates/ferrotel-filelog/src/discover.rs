//! Matching the `include` globs against the file system, compiled once: each pattern is split
//! into its literal base directory and one matcher per later path component, so a poll reads
//! each directory it needs once (`readdir`) and takes each match's `stat` relative to that
//! directory, instead of walking and re-resolving every path per pattern.
//!
//! Semantics are the `glob` crate's, which the receiver used before (`*`, `?`, `[...]` within
//! one component, `**` for zero or more directories, leading dots matched by wildcards).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::path::{Component, Path, PathBuf};

use glob::{MatchOptions, Pattern};

pub const GLOB_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// A path the globs matched, with its metadata (symlinks followed) when it could be read.
pub struct Found {
    pub path: PathBuf,
    pub meta: Option<Metadata>,
}

enum Part {
    Literal(OsString),
    Glob(Pattern),
    /// `**`: zero or more directories.
    AnyDirs,
}

struct Include {
    base: PathBuf,
    parts: Vec<Part>,
}

/// The compiled `include` and `exclude` globs.
pub struct Finder {
    includes: Vec<Include>,
    exclude: Vec<Pattern>,
    /// A single pattern without `**` is walked depth first in sorted order, which already is
    /// the paths' order; otherwise the results are sorted and deduplicated.
    needs_sort: bool,
}

/// One directory's entries, read once per poll even when several patterns walk it.
struct Listing {
    entries: Vec<(OsString, FileType)>,
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Finder {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Finder, String> {
        let mut includes = Vec::new();
        for g in include {
            // Validate the whole pattern as the glob crate would.
            Pattern::new(g).map_err(|e| format!("include: parse glob {g:?}: {e}"))?;
            let mut base = PathBuf::new();
            let mut parts = Vec::new();
            for c in Path::new(g).components() {
                let s = c.as_os_str();
                match (c, s.to_str()) {
                    (Component::Normal(_), Some("**")) => parts.push(Part::AnyDirs),
                    (Component::Normal(_), Some(t)) if is_glob(t) => parts.push(Part::Glob(
                        Pattern::new(t).map_err(|e| format!("include: parse glob {g:?}: {e}"))?,
                    )),
                    _ if parts.is_empty() => base.push(s),
                    _ => parts.push(Part::Literal(s.to_owned())),
                }
            }
            if base.as_os_str().is_empty() {
                base.push(".");
            }
            includes.push(Include { base, parts });
        }
        let exclude = exclude
            .iter()
            .map(|g| Pattern::new(g).map_err(|e| format!("exclude: parse glob {g:?}: {e}")))
            .collect::<Result<_, _>>()?;
        let needs_sort = includes.len() > 1
            || includes
                .iter()
                .any(|i| i.parts.iter().any(|p| matches!(p, Part::AnyDirs)));
        Ok(Finder {
            includes,
            exclude,
            needs_sort,
        })
    }

    /// The matched paths now, sorted and without duplicates or excluded ones.
    pub fn find(&self) -> Vec<Found> {
        let mut out = Vec::new();
        let mut listings: HashMap<PathBuf, Option<Listing>> = HashMap::new();
        for inc in &self.includes {
            if inc.parts.is_empty() {
                // A plain path: no directory to read.
                out.push(Found {
                    meta: std::fs::metadata(&inc.base).ok(),
                    path: inc.base.clone(),
                });
                continue;
            }
            walk(&inc.base, &inc.parts, &mut listings, &mut out);
        }
        if self.needs_sort {
            out.sort_by(|a, b| a.path.cmp(&b.path));
            out.dedup_by(|a, b| a.path == b.path);
        }
        if !self.exclude.is_empty() {
            out.retain(|f| {
                !self
                    .exclude
                    .iter()
                    .any(|x| x.matches_path_with(&f.path, GLOB_OPTIONS))
            });
        }
        out
    }
}

fn list<'a>(
    dir: &Path,
    listings: &'a mut HashMap<PathBuf, Option<Listing>>,
) -> Option<&'a Listing> {
    if !listings.contains_key(dir) {
        let listing = std::fs::read_dir(dir).ok().map(|rd| {
            let mut entries: Vec<(OsString, FileType)> = rd
                .flatten()
                .filter_map(|e| Some((e.file_name(), e.file_type().ok()?)))
                .collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            Listing { entries }
        });
        listings.insert(dir.to_path_buf(), listing);
    }
    listings.get(dir).and_then(|l| l.as_ref())
}

/// Whether `path` (of type `t` as readdir reported it) is a directory, following symlinks.
fn is_dir(path: &Path, t: FileType) -> bool {
    t.is_dir() || (t.is_symlink() && path.is_dir())
}

fn walk(
    dir: &Path,
    parts: &[Part],
    listings: &mut HashMap<PathBuf, Option<Listing>>,
    out: &mut Vec<Found>,
) {
    let last = parts.len() == 1;
    match &parts[0] {
        Part::Literal(name) => {
            let path = dir.join(name);
            if last {
                out.push(Found {
                    meta: std::fs::metadata(&path).ok(),
                    path,
                });
            } else {
                walk(&path, &parts[1..], listings, out);
            }
        }
        Part::Glob(p) => {
            let Some(listing) = list(dir, listings) else {
                return;
            };
            let matches: Vec<(PathBuf, FileType)> = listing
                .entries
                .iter()
                .filter(|(n, _)| n.to_str().is_some_and(|n| p.matches_with(n, GLOB_OPTIONS)))
                .map(|(n, t)| (dir.join(n), *t))
                .collect();
            for (path, t) in matches {
                if last {
                    // Symlinks are followed, as the Go receiver opens the target.
                    out.push(Found {
                        meta: std::fs::metadata(&path).ok(),
                        path,
                    });
                } else if is_dir(&path, t) {
                    walk(&path, &parts[1..], listings, out);
                }
            }
        }
        Part::AnyDirs => {
            if last {
                // A trailing `**` matches what `*` would (files and directories below).
                walk(
                    dir,
                    &[Part::Glob(Pattern::new("*").unwrap_or_default())],
                    listings,
                    out,
                );
                return;
            }
            walk(dir, &parts[1..], listings, out);
            let Some(listing) = list(dir, listings) else {
                return;
            };
            let subdirs: Vec<PathBuf> = listing
                .entries
                .iter()
                .map(|(n, t)| (dir.join(n), *t))
                .filter(|(p, t)| is_dir(p, *t))
                .map(|(p, _)| p)
                .collect();
            for sub in subdirs {
                walk(&sub, parts, listings, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(f: &Finder, root: &Path) -> Vec<String> {
        f.find()
            .iter()
            .map(|x| {
                x.path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn matches_as_the_glob_crate() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for p in [
            "a.log",
            "b.txt",
            ".h.log",
            "x/c.log",
            "x/y/d.log",
            "x-z/e.log",
        ] {
            let p = r.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "1\n").unwrap();
        }
        let root = r.to_str().unwrap();
        for (inc, exc) in [
            (vec![format!("{root}/*.log")], vec![]),
            (vec![format!("{root}/*/*.log")], vec![]),
            (vec![format!("{root}/**/*.log")], vec![]),
            (
                vec![format!("{root}/**/*.log")],
                vec![format!("{root}/x/**")],
            ),
            (
                vec![format!("{root}/x*/*.log"), format!("{root}/*.txt")],
                vec![],
            ),
            (
                vec![format!("{root}/x/y/d.log"), format!("{root}/?.log")],
                vec![],
            ),
            (vec![format!("{root}/nothing/*.log")], vec![]),
        ] {
            let f = Finder::new(&inc, &exc).unwrap();
            let mut want: Vec<PathBuf> = inc
                .iter()
                .flat_map(|g| glob::glob_with(g, GLOB_OPTIONS).unwrap().flatten())
                .filter(|p| {
                    !exc.iter()
                        .any(|x| Pattern::new(x).unwrap().matches_path_with(p, GLOB_OPTIONS))
                })
                .collect();
            want.sort();
            want.dedup();
            let want: Vec<String> = want
                .iter()
                .map(|p| p.strip_prefix(r).unwrap().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names(&f, r), want, "{inc:?} {exc:?}");
        }
    }

    #[test]
    fn bad_patterns_name_the_setting() {
        let e = Finder::new(&["/x/[".into()], &[]).err().unwrap();
        assert!(e.contains("include: parse glob \"/x/[\""), "{e}");
        let e = Finder::new(&[], &["/x/[".into()]).err().unwrap();
        assert!(e.contains("exclude"), "{e}");
    }
}
