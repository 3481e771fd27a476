//! Which due occurrences a member claims first. Every member lists the same occurrences (the
//! same jobs, the same nominal instants) and orders them the same way; the live members, sorted
//! by name, deal them out in turn. Each member claims its own share in one statement, fires
//! what it won, then claims the rest (the shares of members that are slow or gone). The
//! database's unique key still decides every claim: a share is only who tries first, so members
//! that disagree about the membership only contend, they never run an occurrence twice.

/// A due occurrence: job id and nominal instant (ms since the epoch).
pub type Occurrence = (String, i64);

/// This member's place among the live members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Its index among the live members sorted by name.
    pub rank: usize,
    /// How many live members there are (at least 1).
    pub of: usize,
}

impl Default for Place {
    /// Alone: everything is its own share.
    fn default() -> Self {
        Self { rank: 0, of: 1 }
    }
}

impl Place {
    /// `member`'s place among `members` (sorted by name); alone when it is not listed yet.
    pub fn among(members: &[String], member: &str) -> Self {
        members
            .iter()
            .position(|m| m == member)
            .map_or_else(Self::default, |rank| Self {
                rank,
                of: members.len(),
            })
    }
}

/// Sort `due` into the order every member uses (nominal instant, then job id), and split it
/// into this member's share and the rest, both in that order. The one order also keeps two
/// members' multi-row claims from deadlocking: both take the rows' locks in the same order.
pub fn split(mut due: Vec<Occurrence>, place: Place) -> (Vec<Occurrence>, Vec<Occurrence>) {
    due.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    let of = place.of.max(1);
    let (mut mine, mut rest) = (Vec::new(), Vec::new());
    for (index, occurrence) in due.into_iter().enumerate() {
        if index % of == place.rank % of {
            mine.push(occurrence);
        } else {
            rest.push(occurrence);
        }
    }
    (mine, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(jobs: &[(&str, i64)]) -> Vec<(String, i64)> {
        jobs.iter().map(|(j, at)| ((*j).to_owned(), *at)).collect()
    }

    #[test]
    fn members_deal_the_occurrences_out_in_turn_and_together_cover_them_once() {
        let listed = due(&[
            ("c", 1000),
            ("a", 1000),
            ("b", 1000),
            ("a", 2000),
            ("d", 1000),
        ]);
        let members: Vec<String> = ["m1", "m2", "m3"].map(String::from).to_vec();
        let mut seen = Vec::new();
        for name in &members {
            let (mine, rest) = split(listed.clone(), Place::among(&members, name));
            assert_eq!(mine.len() + rest.len(), listed.len());
            seen.extend(mine);
        }
        seen.sort();
        let mut all = listed.clone();
        all.sort();
        assert_eq!(seen, all, "every occurrence in exactly one share");
        let (first, _) = split(listed, Place::among(&members, "m1"));
        assert_eq!(first, due(&[("a", 1000), ("d", 1000)]));
    }

    #[test]
    fn an_unlisted_or_lone_member_claims_everything_first_in_order() {
        let listed = due(&[("b", 1000), ("a", 1000)]);
        let (mine, rest) = split(listed.clone(), Place::among(&[], "me"));
        assert_eq!(mine, due(&[("a", 1000), ("b", 1000)]));
        assert!(rest.is_empty());
        let other = vec!["other".to_owned()];
        assert_eq!(Place::among(&other, "me"), Place::default());
    }
}
