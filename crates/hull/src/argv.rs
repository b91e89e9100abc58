//! Go-style single-dash long options. runc parses its command line with Go's flag package
//! (through urfave/cli), where `-root X` and `--root X` are the same flag, and engines rely on
//! it: containerd's shim passes `-no-subreaper` to `restore`. clap only knows `--name`, so argv
//! is normalised before clap sees it: a single-dash word that is exactly one of hull's long
//! option names (of the global options or of the subcommand being parsed) gets a second dash.
//!
//! As in Go's flag package, options end at the first positional argument after the subcommand
//! (the container id) or at `--`: what follows is the container's (`exec id sh -c ...`) or
//! ps(1)'s, and is never rewritten.

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

/// Whether argv has a word like `-name` at all (most calls have none: then clap's command is
/// built only once, for parsing).
pub fn may_have_go_style(args: &[OsString]) -> bool {
    args.iter().skip(1).any(|a| {
        let b = a.as_encoded_bytes();
        b.len() > 2 && b[0] == b'-' && b[1] != b'-'
    })
}

/// argv with every Go-style `-name[=value]` of a known long option turned into `--name[=value]`.
pub fn normalise(root: &Command, args: Vec<OsString>) -> Vec<OsString> {
    let globals = longs(root);
    let mut sub: Option<&Command> = None;
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
            out.push(arg);
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
            let sub_longs = sub.map(longs).unwrap_or_default();
            globals.iter().chain(sub_longs.iter()).find(|(l, _)| l == name).map(|(_, takes)| *takes)
        };
        if let Some(long) = s.strip_prefix("--") {
            let (name, has_value) = long.split_once('=').map_or((long, false), |(n, _)| (n, true));
            value_next = !has_value && known(name).unwrap_or(false);
            out.push(arg);
            continue;
        }
        if let Some(word) = s.strip_prefix('-').filter(|w| !w.is_empty()) {
            let (name, has_value) = word.split_once('=').map_or((word, false), |(n, _)| (n, true));
            if name.chars().count() > 1 {
                if let Some(takes) = known(name) {
                    value_next = takes && !has_value;
                    out.push(OsString::from(format!("-{s}")));
                    continue;
                }
            }
            // A lone short option (`-b`) that takes the next word as its value.
            let cmds: Vec<&Command> = std::iter::once(root).chain(sub).collect();
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
            None => match root.find_subcommand(&s) {
                Some(c) => sub = Some(c),
                None => done = true,
            },
            Some(_) => done = true,
        }
        out.push(arg);
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
        // aliases (update --cpu-shares), and globals after the subcommand
        assert_eq!(norm(&["update", "-cpu-shares", "5", "-root", "/r", "id"]), ["update", "--cpu-shares", "5", "--root", "/r", "id"]);
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
