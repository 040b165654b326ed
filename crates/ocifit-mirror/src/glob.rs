//! `--exclude` patterns: shell-style globs on repository names (`*` any
//! run of characters, `/` included; `?` one character), so
//! `library/signed-*` and `*/signed` both read as they look.

/// Whether `name` matches `pattern` as a whole.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn s9_exclude_globs_match_whole_repository_names() {
        let cases = [
            ("library/signed-*", "library/signed-app", true),
            ("library/signed-*", "library/signed-", true),
            ("library/signed-*", "library/app", false),
            ("library/signed-*", "other/library/signed-app", false),
            ("*/signed", "a/b/signed", true),
            ("*", "anything/at/all", true),
            ("app?", "app1", true),
            ("app?", "app12", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("", "", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(matches(pattern, name), want, "{pattern} vs {name}");
        }
    }
}
