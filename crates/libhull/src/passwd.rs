//! /etc/passwd lookups by uid, parsed here rather than through glibc's NSS (`getpwuid`): the
//! container's file is read through an fd opened in its rootfs, and the host's lookup for `list`
//! must not need NSS modules, so that hull can be linked statically.

/// The fields hull uses from one passwd line.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub home: &'a str,
}

/// The first entry of `text` (passwd(5) format) whose uid is `uid`. Malformed lines are skipped,
/// as glibc's files backend does.
pub fn by_uid(text: &str, uid: u32) -> Option<Entry<'_>> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 6 && !f[0].is_empty() && f[2].parse::<u32>().ok() == Some(uid)).then(|| Entry { name: f[0], home: f[5] })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_matching_uid_and_skips_malformed_lines() {
        let text = "root:x:0:0:root:/root:/bin/sh\nbroken:0\n:x:1000:1000::/nowhere:/bin/sh\nbob:x:1000:1000:Bob:/home/bob:/bin/sh\nbob2:x:1000:1000::/home/b2:/bin/sh\n";
        assert_eq!(by_uid(text, 0), Some(Entry { name: "root", home: "/root" }));
        assert_eq!(by_uid(text, 1000), Some(Entry { name: "bob", home: "/home/bob" }));
        assert_eq!(by_uid(text, 5), None);
        assert_eq!(by_uid("", 0), None);
    }
}
