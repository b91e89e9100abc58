//! Go-style single-dash long options. runc parses its command line with Go's flag package
//! (through urfave/cli), where `-root X` and `--root X` are the same flag, and engines rely on
//! it: containerd's shim passes `-no-subreaper` to `restore`. clap only knows `--name`, so argv
//! is normalised before clap sees it: a single-dash word that is exactly one of hull's long
//! option names (of the global options or of the subcommand being parsed) gets a second dash.
//!
//! As in Go's flag package, options end at the first positional argument after the subcommand
//! (the container id) or at `--`: what follows is the container's (`exec id sh -c ...`) or
//! ps(1)'s, and is never rewritten.
//!
//! Global options written after the subcommand (`hull state --root /r id`, which runc refuses
//! but hull has always taken) are moved in front of it here. They are not clap `global`
//! arguments: clap copies every global argument into every subcommand at each start, which
//! was almost half the instructions of a `hull state`.

use std::ffi::OsString;

use clap::Command;

/// The long names a command takes (with their aliases), and whether each takes a value.
fn longs(cmd: &Command) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for a in cmd.get_arguments() {
        let takes = a.get_action().takes_values();
        if let Some(l) = a.get_long() {
            out.push((l.to_string(), takes));
        }
        for alias in a.get_all_aliases().unwrap_or_default() {
            out.push((alias.to_string(), takes));
        }
    }
    out
}

/// Whether a short option (`-b`) of `cmd` takes a value, so the next word is its value.
fn short_takes_value(cmds: &[&Command], c: char) -> bool {
    cmds.iter().flat_map(|cmd| cmd.get_arguments()).any(|a| a.get_short() == Some(c) && a.get_action().takes_values())
}

/// hull's global options (long name, takes a value): accepted before the subcommand and,
/// moved there by [`normalise`], after it. A unit test checks the table against `Cli`.
pub const GLOBALS: &[(&str, bool)] =
    &[("root", true), ("log", true), ("log-format", true), ("debug", false), ("systemd-cgroup", false), ("criu", true)];

/// Options of hull's own (not of a subcommand) that take a value, beside the globals.
const ROOT_ONLY_VALUES: &[&str] = &["rootless"];

/// Whether argv needs [`normalise`]: it has a word like `-name`, or a global option after the
/// subcommand. Most calls have neither (engines put the globals first): then clap's command is
/// built only once, for parsing.
pub fn needs_normalise(args: &[OsString]) -> bool {
    let mut value_next = false;
    let mut after_sub = false;
    for a in args.iter().skip(1) {
        let b = a.as_encoded_bytes();
        if b.len() > 2 && b[0] == b'-' && b[1] != b'-' {
            return true;
        }
        if std::mem::take(&mut value_next) {
            continue;
        }
        if b == b"--" {
            return false;
        }
        if let Some(long) = b.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|&c| c == b'=') {
                Some(i) => (&long[..i], true),
                None => (long, false),
            };
            if let Some((_, takes)) = GLOBALS.iter().find(|(g, _)| g.as_bytes() == name) {
                if after_sub {
                    return true;
                }
                value_next = *takes && !inline;
            } else if !after_sub && !inline && ROOT_ONLY_VALUES.iter().any(|r| r.as_bytes() == name) {
                value_next = true;
            }
            continue;
        }
        if !b.starts_with(b"-") {
            after_sub = true;
        }
    }
    false
}

/// argv with every Go-style `-name[=value]` of a known long option turned into `--name[=value]`,
/// and global options found after the subcommand moved in front of it.
pub fn normalise(root: &Command, args: Vec<OsString>) -> Vec<OsString> {
    let globals = longs(root);
    let mut sub: Option<Command> = None;
    // Where the subcommand's name is in `out`, and the global options (with their values)
    // seen after it, to go in front of it.
    let mut sub_at = 0;
    let mut hoisted: Vec<OsString> = Vec::new();
    let mut hoist_value = false;
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    if let Some(argv0) = iter.next() {
        out.push(argv0);
    }
    let mut value_next = false;
    let mut done = false;
    for arg in iter {
        if done {
            out.push(arg);
            continue;
        }
        if value_next {
            value_next = false;
            if std::mem::take(&mut hoist_value) {
                hoisted.push(arg);
            } else {
                out.push(arg);
            }
            continue;
        }
        // Options are ASCII; anything else is a positional (and ends the options below).
        let Some(s) = arg.to_str().map(str::to_owned) else {
            done = sub.is_some();
            out.push(arg);
            continue;
        };
        if s == "--" {
            done = true;
            out.push(arg);
            continue;
        }
        let known = |name: &str| -> Option<bool> {
            // clap adds --help itself, when the command is built
            if name == "help" {
                return Some(false);
            }
            let sub_longs = sub.as_ref().map(longs).unwrap_or_default();
            sub_longs.iter().chain(globals.iter()).find(|(l, _)| l == name).map(|(_, takes)| *takes)
        };
        // A global option after the subcommand (one the subcommand does not have itself).
        let hoist = |name: &str| -> bool {
            sub.as_ref().is_some_and(|c| c.get_arguments().all(|a| a.get_long() != Some(name))) && GLOBALS.iter().any(|(g, _)| *g == name)
        };
        if let Some(long) = s.strip_prefix("--") {
            let (name, has_value) = long.split_once('=').map_or((long, false), |(n, _)| (n, true));
            value_next = !has_value && known(name).unwrap_or(false);
            if hoist(name) {
                hoist_value = value_next;
                hoisted.push(arg);
            } else {
                out.push(arg);
            }
            continue;
        }
        if let Some(word) = s.strip_prefix('-').filter(|w| !w.is_empty()) {
            let (name, has_value) = word.split_once('=').map_or((word, false), |(n, _)| (n, true));
            if name.chars().count() > 1 {
                if let Some(takes) = known(name) {
                    value_next = takes && !has_value;
                    let dashed = OsString::from(format!("-{s}"));
                    if hoist(name) {
                        hoist_value = value_next;
                        hoisted.push(dashed);
                    } else {
                        out.push(dashed);
                    }
                    continue;
                }
            }
            // A lone short option (`-b`) that takes the next word as its value.
            let cmds: Vec<&Command> = std::iter::once(root).chain(sub.as_ref()).collect();
            let mut chars = word.chars();
            value_next = match (chars.next(), chars.next()) {
                (Some(c), None) => short_takes_value(&cmds, c),
                _ => false,
            };
            out.push(arg);
            continue;
        }
        // A positional: the subcommand's name, else the first operand, after which nothing is
        // an option of hull's any more.
        match sub {
            // Subcommands are deferred (their arguments are added when clap builds one): build
            // a copy of this one to see its options.
            None => match root.find_subcommand(&s) {
                Some(c) => {
                    let mut c = c.clone();
                    c.build();
                    sub = Some(c);
                    sub_at = out.len();
                }
                None => done = true,
            },
            Some(_) => done = true,
        }
        out.push(arg);
    }
    if !hoisted.is_empty() {
        out.splice(sub_at..sub_at, hoisted);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn norm(args: &[&str]) -> Vec<String> {
        let cmd = crate::Cli::command();
        let v = std::iter::once("hull").chain(args.iter().copied()).map(OsString::from).collect();
        normalise(&cmd, v).into_iter().skip(1).map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn single_dash_long_options_get_a_second_dash() {
        assert_eq!(norm(&["-root", "/r", "-log-format", "json", "list"]), ["--root", "/r", "--log-format", "json", "list"]);
        assert_eq!(
            norm(&["-debug", "run", "-no-subreaper", "-d", "-bundle", "b", "id"]),
            ["--debug", "run", "--no-subreaper", "-d", "--bundle", "b", "id"]
        );
        assert_eq!(
            norm(&["create", "-pid-file=/p", "-console-socket", "/s", "id"]),
            ["create", "--pid-file=/p", "--console-socket", "/s", "id"]
        );
        // aliases (update --cpu-shares), and globals after the subcommand (moved before it)
        assert_eq!(norm(&["update", "-cpu-shares", "5", "-root", "/r", "id"]), ["--root", "/r", "update", "--cpu-shares", "5", "id"]);
    }

    #[test]
    fn globals_after_the_subcommand_move_in_front_of_it() {
        assert_eq!(
            norm(&["--debug", "state", "--root", "/r", "--log=/l", "-systemd-cgroup", "id", "--root"]),
            ["--debug", "--root", "/r", "--log=/l", "--systemd-cgroup", "state", "id", "--root"]
        );
        assert_eq!(norm(&["create", "--bundle", "--root", "id"]), ["create", "--bundle", "--root", "id"]);
        assert_eq!(norm(&["exec", "-t", "id", "--debug"]), ["exec", "-t", "id", "--debug"]);
        assert_eq!(norm(&["kill", "--", "--root"]), ["kill", "--", "--root"]);
    }

    fn words(args: &[&str]) -> Vec<OsString> {
        std::iter::once("hull").chain(args.iter().copied()).map(OsString::from).collect()
    }

    #[test]
    fn needs_normalise_only_for_go_style_or_late_globals() {
        // what engines pass: globals (with values that look like words) before the subcommand
        assert!(!needs_normalise(&words(&["--root", "/r", "--log", "/l", "--log-format", "json", "create", "--bundle", "b", "id"])));
        assert!(!needs_normalise(&words(&["--rootless", "true", "--debug", "--systemd-cgroup", "state", "id"])));
        assert!(!needs_normalise(&words(&["--root=/r", "exec", "id", "--", "--root"])));
        assert!(needs_normalise(&words(&["state", "--root", "/r", "id"])));
        assert!(needs_normalise(&words(&["--root", "/r", "list", "--debug"])));
        assert!(needs_normalise(&words(&["-root", "/r", "list"])));
    }

    #[test]
    fn the_globals_table_is_clis_root_options() {
        let cmd = crate::Cli::command();
        let mut root: Vec<(String, bool)> = longs(&cmd).into_iter().filter(|(l, _)| l != "version").collect();
        root.sort();
        let mut table: Vec<(String, bool)> =
            GLOBALS.iter().map(|(g, t)| (g.to_string(), *t)).chain(ROOT_ONLY_VALUES.iter().map(|r| (r.to_string(), true))).collect();
        table.sort();
        assert_eq!(root, table);
    }

    #[test]
    fn words_after_the_id_or_double_dash_are_left_alone() {
        assert_eq!(norm(&["exec", "-tty", "id", "sh", "-root", "-tty"]), ["exec", "--tty", "id", "sh", "-root", "-tty"]);
        assert_eq!(norm(&["exec", "--", "id", "-detach"]), ["exec", "--", "id", "-detach"]);
        assert_eq!(norm(&["ps", "-format", "json", "id", "-format"]), ["ps", "--format", "json", "id", "-format"]);
        assert_eq!(norm(&["kill", "id", "-all"]), ["kill", "id", "-all"]);
        // the value of an option is not an option nor the id
        assert_eq!(norm(&["create", "-bundle", "-root", "id"]), ["create", "--bundle", "-root", "id"]);
        assert_eq!(norm(&["create", "-b", "-root", "id"]), ["create", "-b", "-root", "id"]);
        assert_eq!(norm(&["--root", "-debug", "list"]), ["--root", "-debug", "list"]);
    }

    #[test]
    fn unknown_and_short_options_stay_as_they_are() {
        assert_eq!(norm(&["-v"]), ["-v"]);
        assert_eq!(norm(&["-help"]), ["--help"]);
        assert_eq!(norm(&["delete", "-help"]), ["delete", "--help"]);
        assert_eq!(norm(&["delete", "-f", "id"]), ["delete", "-f", "id"]);
        assert_eq!(norm(&["delete", "-nosuch", "id"]), ["delete", "-nosuch", "id"]);
        assert_eq!(norm(&["nosuchcommand", "-root"]), ["nosuchcommand", "-root"]);
    }
}
