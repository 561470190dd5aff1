//! Constrained union-find: links merge clusters only when the merged
//! cluster stays consistent, so one weak link cannot chain two people.

use time::Date;

use crate::compare::{self, birth, id};
use crate::prepare::{IdInfo, Prepared};
use ygt_domain::ident::Sex;

/// What a cluster asserts about its person.
#[derive(Debug, Default, Clone)]
struct Summary {
    /// Valid identity numbers of the members (deduplicated).
    ids: Vec<IdInfo>,
    /// Birth dates of the members, with how many members have each.
    births: Vec<(Date, u32)>,
    /// Members recorded as male and as female.
    sexes: [u32; 2],
    /// Registrations that must never join this cluster.
    forbid: Vec<u32>,
}

fn ids_compatible(a: &IdInfo, b: &IdInfo) -> bool {
    matches!(
        compare::id_level(a, b),
        id::EXACT | id::LEGACY | id::TYPO | id::TRANSPOSED
    )
}

fn births_compatible(a: Date, b: Date) -> bool {
    matches!(
        compare::birth_level(a, b),
        birth::EXACT | birth::TYPO | birth::SWAPPED | birth::YEAR
    )
}

fn sex_slot(s: Option<Sex>) -> Option<usize> {
    match s {
        Some(Sex::Male) => Some(0),
        Some(Sex::Female) => Some(1),
        _ => None,
    }
}

/// Disjoint sets of registrations with the consistency rules of a person.
///
/// A link merges two clusters unless that would put two different valid ID
/// numbers in one cluster (never), or, when the clusters are not tied by the
/// same valid number, members of incompatible birth dates (more than a typo,
/// a month/day swap or the same year) or of different sex. The linked pair
/// itself was scored with its differences: it alone may disagree on birth
/// date or sex; any other disagreeing member pair stops the merge, so that a
/// weak link cannot chain two people.
pub(crate) struct Clusters {
    parent: Vec<u32>,
    size: Vec<u32>,
    summary: Vec<Summary>,
    birth: Vec<Option<Date>>,
    sex: Vec<Option<usize>>,
}

impl Clusters {
    /// One cluster per registration; `cannot_link` pairs (indices into
    /// `regs`) are never put into one cluster.
    pub(crate) fn new(regs: &[Prepared], cannot_link: &[(usize, usize)]) -> Clusters {
        let n = regs.len();
        let mut summary: Vec<Summary> = regs
            .iter()
            .map(|p| {
                let mut sexes = [0; 2];
                if let Some(slot) = sex_slot(p.sex) {
                    sexes[slot] = 1;
                }
                Summary {
                    ids: p.id.filter(|i| i.valid).into_iter().collect(),
                    births: p.birth.map(|d| (d, 1)).into_iter().collect(),
                    sexes,
                    forbid: Vec::new(),
                }
            })
            .collect();
        for &(a, b) in cannot_link {
            if a == b || a >= n || b >= n {
                continue;
            }
            let (Ok(a32), Ok(b32)) = (u32::try_from(a), u32::try_from(b)) else {
                continue;
            };
            summary[a].forbid.push(b32);
            summary[b].forbid.push(a32);
        }
        Clusters {
            parent: (0..n)
                .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
                .collect(),
            size: vec![1; n],
            summary,
            birth: regs.iter().map(|p| p.birth).collect(),
            sex: regs.iter().map(|p| sex_slot(p.sex)).collect(),
        }
    }

    pub(crate) fn find(&mut self, mut i: u32) -> u32 {
        while let Some(&p) = self.parent.get(i as usize) {
            if p == i {
                break;
            }
            let gp = self.parent.get(p as usize).copied().unwrap_or(p);
            if let Some(slot) = self.parent.get_mut(i as usize) {
                *slot = gp;
            }
            i = gp;
        }
        i
    }

    /// Whether the clusters rooted at `ra` and `rb` may become one through
    /// the link of `i` (in `ra`) and `j` (in `rb`); `identified` when that
    /// link agrees on an ID number or another identifier.
    fn consistent(&mut self, ra: u32, rb: u32, i: u32, j: u32, identified: bool) -> bool {
        let (a, b) = (&self.summary[ra as usize], &self.summary[rb as usize]);
        // Contradictory valid ID numbers: never.
        if !a
            .ids
            .iter()
            .all(|x| b.ids.iter().all(|y| ids_compatible(x, y)))
        {
            return false;
        }
        // Tied by the same valid number, or linked by an identifier: recorded
        // birth dates and sex may carry typos, the identifier decides.
        let same_number = !a.ids.is_empty() && !b.ids.is_empty();
        if !same_number && !identified {
            let (bi, bj) = (self.birth[i as usize], self.birth[j as usize]);
            let (si, sj) = (self.sex[i as usize], self.sex[j as usize]);
            let direct_birth = matches!((bi, bj), (Some(x), Some(y)) if !births_compatible(x, y));
            let direct_sex = matches!((si, sj), (Some(x), Some(y)) if x != y);
            let mut birth_conflicts = 0u64;
            for (da, ca) in &a.births {
                for (db, cb) in &b.births {
                    if !births_compatible(*da, *db) {
                        birth_conflicts += u64::from(*ca) * u64::from(*cb);
                    }
                }
            }
            if birth_conflicts > u64::from(direct_birth) {
                return false;
            }
            let sex_conflicts = u64::from(a.sexes[0]) * u64::from(b.sexes[1])
                + u64::from(a.sexes[1]) * u64::from(b.sexes[0]);
            if sex_conflicts > u64::from(direct_sex) {
                return false;
            }
        }
        let (fa, fb) = (a.forbid.clone(), b.forbid.clone());
        if fa.iter().any(|&x| self.find(x) == rb) || fb.iter().any(|&x| self.find(x) == ra) {
            return false;
        }
        true
    }

    /// Merges the clusters of `i` and `j` if they are consistent; returns
    /// whether they are one cluster afterwards. `identified`: the link
    /// agrees on an ID number or another identifier.
    pub(crate) fn union(&mut self, i: u32, j: u32, identified: bool) -> bool {
        let (ra, rb) = (self.find(i), self.find(j));
        if ra == rb {
            return true;
        }
        if !self.consistent(ra, rb, i, j, identified) {
            return false;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        let moved = std::mem::take(&mut self.summary[small as usize]);
        let target = &mut self.summary[big as usize];
        for x in moved.ids {
            if !target.ids.contains(&x) {
                target.ids.push(x);
            }
        }
        for (d, c) in moved.births {
            match target.births.iter_mut().find(|(x, _)| *x == d) {
                Some((_, count)) => *count += c,
                None => target.births.push((d, c)),
            }
        }
        target.sexes[0] += moved.sexes[0];
        target.sexes[1] += moved.sexes[1];
        target.forbid.extend(moved.forbid);
        true
    }

    /// Cluster index of every registration, numbered from 0 in order of
    /// first appearance.
    pub(crate) fn labels(&mut self) -> Vec<usize> {
        let n = self.parent.len();
        let mut label_of_root = vec![usize::MAX; n];
        let mut next = 0;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let r = self.find(u32::try_from(i).unwrap_or(u32::MAX)) as usize;
            let slot = &mut label_of_root[r];
            if *slot == usize::MAX {
                *slot = next;
                next += 1;
            }
            out.push(*slot);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Registration, prepare};
    use time::macros::date;

    fn reg(id: Option<&str>, birth: Option<Date>, sex: Option<Sex>) -> Prepared {
        prepare(&Registration {
            record_id: "r".into(),
            name: "王秀英".into(),
            id_number: id.map(Into::into),
            birth_date: birth,
            sex,
            ..Registration::default()
        })
    }

    #[test]
    fn contradictory_ids_are_never_merged() {
        let regs = vec![
            reg(Some("11010519491231002X"), None, None),
            reg(None, Some(date!(1949 - 12 - 31)), Some(Sex::Female)),
            reg(Some("440524188001010014"), None, None),
        ];
        let mut c = Clusters::new(&regs, &[]);
        assert!(c.union(0, 1, false));
        assert!(
            !c.union(1, 2, false),
            "would chain two ID numbers through record 1"
        );
        assert_eq!(c.labels(), vec![0, 0, 1]);
    }

    #[test]
    fn incompatible_births_and_sexes_are_refused() {
        let regs = vec![
            reg(None, Some(date!(1960 - 01 - 01)), Some(Sex::Male)),
            reg(None, None, None),
            reg(None, Some(date!(1990 - 06 - 01)), Some(Sex::Male)),
            reg(None, Some(date!(1960 - 01 - 01)), Some(Sex::Female)),
            reg(None, Some(date!(1960 - 10 - 01)), Some(Sex::Male)),
        ];
        let mut c = Clusters::new(&regs, &[]);
        assert!(c.union(0, 1, false));
        assert!(!c.union(1, 2, false), "record 1 would chain 1960 and 1990");
        assert!(
            !c.union(1, 3, false),
            "record 1 would chain a man and a woman"
        );
        assert!(c.union(1, 4, false), "one-digit typo in the month");
        assert_eq!(c.labels(), vec![0, 0, 1, 2, 0]);
    }

    #[test]
    fn the_linked_pair_itself_may_disagree() {
        // A link was scored with its own differences (a sex typo): allowed
        // when nobody else in the clusters disagrees.
        let regs = vec![
            reg(None, Some(date!(1960 - 01 - 01)), Some(Sex::Male)),
            reg(None, Some(date!(1960 - 01 - 01)), Some(Sex::Female)),
            reg(None, Some(date!(1960 - 01 - 01)), Some(Sex::Female)),
        ];
        let mut c = Clusters::new(&regs, &[]);
        assert!(c.union(0, 1, false));
        assert!(
            !c.union(2, 1, false),
            "2 disagrees with 0, which it was not compared with"
        );
    }

    #[test]
    fn the_same_number_overrides_typos_in_birth_and_sex() {
        let regs = vec![
            reg(
                Some("11010519491231002X"),
                Some(date!(1949 - 12 - 31)),
                Some(Sex::Female),
            ),
            reg(
                Some("11010519491231002X"),
                Some(date!(1980 - 01 - 01)),
                Some(Sex::Male),
            ),
        ];
        let mut c = Clusters::new(&regs, &[]);
        assert!(c.union(0, 1, false));
    }

    #[test]
    fn an_identified_link_overrides_birth_and_sex() {
        let regs = vec![
            reg(None, Some(date!(1960 - 01 - 01)), Some(Sex::Male)),
            reg(None, Some(date!(1960 - 01 - 01)), Some(Sex::Male)),
            reg(None, Some(date!(1960 - 01 - 01)), Some(Sex::Female)),
        ];
        let mut c = Clusters::new(&regs, &[]);
        assert!(c.union(0, 1, false));
        assert!(!c.union(2, 1, false));
        assert!(c.union(2, 1, true));
    }

    #[test]
    fn cannot_link_is_respected_transitively() {
        let regs: Vec<Prepared> = (0..4).map(|_| reg(None, None, None)).collect();
        let mut c = Clusters::new(&regs, &[(0, 3), (7, 1), (2, 2)]);
        assert!(c.union(0, 1, false));
        assert!(c.union(2, 3, false));
        assert!(!c.union(1, 2, false), "0 and 3 must stay apart");
        assert!(!c.union(3, 0, false));
        assert_eq!(c.labels(), vec![0, 0, 1, 1]);
    }
}
