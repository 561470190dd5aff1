//! Use cases of the organisation registry.

use uuid::Uuid;
use ygt_domain::msg;
use ygt_domain::org::{
    CommunityDraft, DepartmentDraft, InstitutionData, InstitutionDraft, StaffDraft, Tier,
};
use ygt_domain::{Reason, ValidationError};
use ygt_store::Tx;
use ygt_store::org::{
    Community, Department, Institution, InstitutionFilter, Overview, Registry, Staff, StaffFilter,
};

use ygt_domain::access::Permission;
use ygt_domain::audit::Outcome;

use crate::access::Event;
use crate::{App, AppError, Ctx, Result, new_id};

fn ev(action: &'static str, kind: &'static str, id: impl ToString) -> Event<'static> {
    Event::new(action, kind, Some(id.to_string()))
}

fn read_event() -> Event<'static> {
    Event::new("registry.read", "registry", None)
}

/// Everything the institution page shows.
#[derive(Debug, Clone)]
pub struct InstitutionDetail {
    pub institution: Institution,
    pub parent: Option<Institution>,
    pub children: Vec<Institution>,
    pub departments: Vec<Department>,
    pub staff: Vec<Staff>,
    pub communities: Vec<Community>,
}

/// One node of the institution tree (county → township → village).
#[derive(Debug, Clone)]
pub struct TreeNode {
    pub institution: Institution,
    pub children: Vec<TreeNode>,
}

/// A community with its member institutions.
#[derive(Debug, Clone)]
pub struct CommunityDetail {
    pub community: Community,
    pub lead: Option<Institution>,
    pub members: Vec<Institution>,
}

/// Search results over the registry.
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    pub institutions: Vec<Institution>,
    pub staff: Vec<Staff>,
}

fn not_found_ref(field: &str) -> AppError {
    AppError::Invalid(ValidationError::new(field, Reason::NotFound).into())
}

impl App {
    // ------------------------------------------------------------ reads

    pub async fn overview(&self, ctx: &Ctx) -> Result<Overview> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        Ok(self.store().overview().await?)
    }

    pub async fn list_institutions(
        &self,
        ctx: &Ctx,
        f: &InstitutionFilter,
    ) -> Result<(Vec<Institution>, i64)> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        let total = self.store().count_institutions(f).await?;
        let items = self.store().list_institutions(f).await?;
        Ok((items, total))
    }

    pub async fn institution(&self, ctx: &Ctx, id: Uuid) -> Result<Institution> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        self.store()
            .institution(id)
            .await?
            .ok_or(AppError::NotFound("institution"))
    }

    pub async fn institution_detail(&self, ctx: &Ctx, id: Uuid) -> Result<InstitutionDetail> {
        let institution = self.institution(ctx, id).await?;
        let parent = match institution.parent_id {
            Some(p) => self.store().institution(p).await?,
            None => None,
        };
        let children = self
            .store()
            .list_institutions(&InstitutionFilter {
                parent_id: Some(id),
                ..Default::default()
            })
            .await?;
        let departments = self.store().departments(id, false).await?;
        let staff = self
            .store()
            .list_staff(&StaffFilter {
                institution_id: Some(id),
                ..Default::default()
            })
            .await?;
        let communities = self.store().communities_of(id).await?;
        Ok(InstitutionDetail {
            institution,
            parent,
            children,
            departments,
            staff,
            communities,
        })
    }

    /// The active institutions as a forest: roots are those without an (active) parent.
    pub async fn institution_tree(&self, ctx: &Ctx) -> Result<Vec<TreeNode>> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        let all = self
            .store()
            .list_institutions(&InstitutionFilter::default())
            .await?;
        Ok(build_tree(all))
    }

    // ------------------------------------------------------------ institution writes

    /// Writing about `institution` needs registry.write over it, or registry.write_all.
    async fn can_write(&self, ctx: &Ctx, institution: Option<Uuid>, e: Event<'_>) -> Result<()> {
        self.require_for(
            ctx,
            Permission::RegistryWrite,
            Permission::RegistryWriteAll,
            institution,
            e,
        )
        .await
    }

    async fn can_write_all(&self, ctx: &Ctx, e: Event<'_>) -> Result<()> {
        self.require(ctx, Permission::RegistryWriteAll, e).await
    }

    async fn check_parent(&self, tx: &mut Tx, id: Option<Uuid>, d: &InstitutionData) -> Result<()> {
        let Some(parent) = d.parent_id else {
            return Ok(());
        };
        let Some((ptier, active)) = tx.institution_tier(parent).await? else {
            return Err(not_found_ref("parent_id"));
        };
        if !active {
            return Err(not_found_ref("parent_id"));
        }
        let ok = match d.tier {
            Tier::County => false,
            Tier::Township => ptier == Tier::County,
            Tier::Village => ptier == Tier::Township,
        };
        if !ok {
            return Err(AppError::Invalid(
                ValidationError::new(
                    "parent_id",
                    Reason::Other(msg!("org.parent_tier", tier = d.tier, ptier = ptier)),
                )
                .into(),
            ));
        }
        if let Some(id) = id
            && tx.is_ancestor_or_self(id, parent).await?
        {
            return Err(AppError::Invalid(
                ValidationError::new("parent_id", Reason::Other(msg!("org.parent_cycle"))).into(),
            ));
        }
        Ok(())
    }

    pub async fn create_institution(
        &self,
        ctx: &Ctx,
        draft: &InstitutionDraft,
    ) -> Result<Institution> {
        let d = draft.parse()?;
        let e = || {
            Event::new(
                "registry.institution.create",
                "institution",
                Some(d.name.clone()),
            )
        };
        match d.parent_id {
            Some(p) => self.can_write(ctx, Some(p), e()).await?,
            None => self.can_write_all(ctx, e()).await?,
        }
        let mut tx = self.store().begin().await?;
        self.check_parent(&mut tx, None, &d).await?;
        let id = new_id();
        tx.insert_institution(id, &d, self.now()).await?;
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.institution.create", "institution", id).detail(d.name.clone()),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.institution(ctx, id).await
    }

    pub async fn update_institution(
        &self,
        ctx: &Ctx,
        id: Uuid,
        draft: &InstitutionDraft,
        expected_version: Option<i64>,
    ) -> Result<Institution> {
        let d = draft.parse()?;
        let before = self.institution(ctx, id).await?;
        self.can_write(
            ctx,
            Some(id),
            ev("registry.institution.update", "institution", id),
        )
        .await?;
        if d.tier != before.tier && before.children_count > 0 {
            return Err(AppError::Invalid(
                ValidationError::new(
                    "tier",
                    Reason::Other(msg!(
                        "org.tier_has_children",
                        children_count = before.children_count
                    )),
                )
                .into(),
            ));
        }
        if d.parent_id != before.parent_id {
            match d.parent_id {
                Some(p) => {
                    self.can_write(
                        ctx,
                        Some(p),
                        ev("registry.institution.update", "institution", id),
                    )
                    .await?
                }
                None => {
                    self.can_write_all(ctx, ev("registry.institution.update", "institution", id))
                        .await?
                }
            }
        }
        let mut tx = self.store().begin().await?;
        self.check_parent(&mut tx, Some(id), &d).await?;
        tx.update_institution(id, &d, expected_version, self.now())
            .await?;
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.institution.update", "institution", id),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.institution(ctx, id).await
    }

    /// Deactivates an institution; refused while active institutions still report to it.
    pub async fn deactivate_institution(&self, ctx: &Ctx, id: Uuid) -> Result<Institution> {
        let inst = self.institution(ctx, id).await?;
        self.can_write(
            ctx,
            Some(id),
            ev("registry.institution.deactivate", "institution", id),
        )
        .await?;
        let led: Vec<String> = self
            .store()
            .list_communities(false)
            .await?
            .into_iter()
            .filter(|c| c.lead_institution_id == Some(id))
            .map(|c| c.name)
            .collect();
        if !led.is_empty() {
            return Err(AppError::conflict(
                None,
                msg!("org.leads_community", join = led.join("、")),
            ));
        }
        if inst.children_count > 0 {
            return Err(AppError::conflict(
                None,
                msg!(
                    "org.has_active_children",
                    children_count = inst.children_count
                ),
            ));
        }
        let mut tx = self.store().begin().await?;
        tx.set_active(Registry::Institution, id, false, self.now())
            .await?;
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.institution.deactivate", "institution", id),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.institution(ctx, id).await
    }

    pub async fn reactivate_institution(&self, ctx: &Ctx, id: Uuid) -> Result<Institution> {
        self.can_write(
            ctx,
            Some(id),
            ev("registry.institution.activate", "institution", id),
        )
        .await?;
        let inst = self.institution(ctx, id).await?;
        if let Some(p) = inst.parent_id {
            let parent = self.institution(ctx, p).await?;
            if !parent.active {
                return Err(AppError::conflict(
                    Some("parent_id"),
                    msg!("org.parent_inactive", name = parent.name),
                ));
            }
        }
        let mut tx = self.store().begin().await?;
        tx.set_active(Registry::Institution, id, true, self.now())
            .await?;
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.institution.activate", "institution", id),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.institution(ctx, id).await
    }

    // ------------------------------------------------------------ communities

    pub async fn list_communities(
        &self,
        ctx: &Ctx,
        include_inactive: bool,
    ) -> Result<Vec<Community>> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        Ok(self.store().list_communities(include_inactive).await?)
    }

    pub async fn community(&self, ctx: &Ctx, id: Uuid) -> Result<Community> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        self.store()
            .community(id)
            .await?
            .ok_or(AppError::NotFound("community"))
    }

    pub async fn community_detail(&self, ctx: &Ctx, id: Uuid) -> Result<CommunityDetail> {
        let community = self.community(ctx, id).await?;
        let lead = match community.lead_institution_id {
            Some(l) => self.store().institution(l).await?,
            None => None,
        };
        let members = self
            .store()
            .list_institutions(&InstitutionFilter {
                community_id: Some(id),
                ..Default::default()
            })
            .await?;
        Ok(CommunityDetail {
            community,
            lead,
            members,
        })
    }

    async fn check_lead(&self, tx: &mut Tx, lead: Option<Uuid>) -> Result<()> {
        if let Some(l) = lead {
            match tx.institution_tier(l).await? {
                Some((_, true)) => {}
                _ => return Err(not_found_ref("lead_institution_id")),
            }
        }
        Ok(())
    }

    pub async fn create_community(&self, ctx: &Ctx, draft: &CommunityDraft) -> Result<Community> {
        let d = draft.parse()?;
        self.can_write_all(
            ctx,
            Event::new(
                "registry.community.create",
                "community",
                Some(d.name.clone()),
            ),
        )
        .await?;
        let mut tx = self.store().begin().await?;
        self.check_lead(&mut tx, d.lead_institution_id).await?;
        let id = new_id();
        let now = self.now();
        tx.insert_community(id, &d, now).await?;
        if let Some(l) = d.lead_institution_id {
            tx.add_member(id, l, now).await?;
        }
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.community.create", "community", id).detail(d.name.clone()),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.community(ctx, id).await
    }

    pub async fn update_community(
        &self,
        ctx: &Ctx,
        id: Uuid,
        draft: &CommunityDraft,
        expected_version: Option<i64>,
    ) -> Result<Community> {
        let d = draft.parse()?;
        self.community(ctx, id).await?;
        self.can_write_all(ctx, ev("registry.community.update", "community", id))
            .await?;
        let mut tx = self.store().begin().await?;
        self.check_lead(&mut tx, d.lead_institution_id).await?;
        let now = self.now();
        tx.update_community(id, &d, expected_version, now).await?;
        if let Some(l) = d.lead_institution_id {
            tx.add_member(id, l, now).await?;
        }
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.community.update", "community", id),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.community(ctx, id).await
    }

    pub async fn set_community_active(
        &self,
        ctx: &Ctx,
        id: Uuid,
        active: bool,
    ) -> Result<Community> {
        let action = if active {
            "registry.community.activate"
        } else {
            "registry.community.deactivate"
        };
        self.can_write_all(ctx, ev(action, "community", id)).await?;
        let mut tx = self.store().begin().await?;
        tx.set_active(Registry::Community, id, active, self.now())
            .await?;
        self.audit_in(&mut tx, ctx, ev(action, "community", id), Outcome::Allowed)
            .await?;
        tx.commit().await?;
        self.community(ctx, id).await
    }

    pub async fn add_community_member(
        &self,
        ctx: &Ctx,
        community_id: Uuid,
        institution_id: Uuid,
    ) -> Result<CommunityDetail> {
        self.community(ctx, community_id).await?;
        self.can_write_all(
            ctx,
            ev("registry.community.add_member", "community", community_id),
        )
        .await?;
        let mut tx = self.store().begin().await?;
        match tx.institution_tier(institution_id).await? {
            Some((_, true)) => {}
            _ => return Err(not_found_ref("institution_id")),
        }
        tx.add_member(community_id, institution_id, self.now())
            .await?;
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.community.add_member", "community", community_id)
                .detail(institution_id.to_string()),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.community_detail(ctx, community_id).await
    }

    pub async fn remove_community_member(
        &self,
        ctx: &Ctx,
        community_id: Uuid,
        institution_id: Uuid,
    ) -> Result<CommunityDetail> {
        let c = self.community(ctx, community_id).await?;
        self.can_write_all(
            ctx,
            ev(
                "registry.community.remove_member",
                "community",
                community_id,
            ),
        )
        .await?;
        if c.lead_institution_id == Some(institution_id) {
            return Err(AppError::conflict(
                Some("institution_id"),
                msg!("org.lead_institution_cannot_leave"),
            ));
        }
        let mut tx = self.store().begin().await?;
        if !tx
            .remove_member(community_id, institution_id, self.now())
            .await?
        {
            return Err(AppError::NotFound("membership"));
        }
        self.audit_in(
            &mut tx,
            ctx,
            ev(
                "registry.community.remove_member",
                "community",
                community_id,
            )
            .detail(institution_id.to_string()),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.community_detail(ctx, community_id).await
    }

    // ------------------------------------------------------------ departments

    pub async fn department(&self, ctx: &Ctx, id: Uuid) -> Result<Department> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        self.store()
            .department(id)
            .await?
            .ok_or(AppError::NotFound("department"))
    }

    pub async fn departments(&self, ctx: &Ctx, institution_id: Uuid) -> Result<Vec<Department>> {
        self.institution(ctx, institution_id).await?;
        Ok(self.store().departments(institution_id, false).await?)
    }

    pub async fn create_department(
        &self,
        ctx: &Ctx,
        institution_id: Uuid,
        draft: &DepartmentDraft,
    ) -> Result<Department> {
        let d = draft.parse()?;
        self.can_write(
            ctx,
            Some(institution_id),
            ev("registry.department.create", "institution", institution_id),
        )
        .await?;
        let mut tx = self.store().begin().await?;
        match tx.institution_tier(institution_id).await? {
            Some((_, true)) => {}
            Some((_, false)) => {
                return Err(AppError::conflict(
                    None,
                    msg!("org.institution_deactivated"),
                ));
            }
            None => return Err(AppError::NotFound("institution")),
        }
        let id = new_id();
        tx.insert_department(id, institution_id, &d, self.now())
            .await?;
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.department.create", "department", id).detail(d.name.clone()),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.department(ctx, id).await
    }

    pub async fn update_department(
        &self,
        ctx: &Ctx,
        id: Uuid,
        draft: &DepartmentDraft,
        expected_version: Option<i64>,
    ) -> Result<Department> {
        let d = draft.parse()?;
        let dep = self.department(ctx, id).await?;
        self.can_write(
            ctx,
            Some(dep.institution_id),
            ev("registry.department.update", "department", id),
        )
        .await?;
        let mut tx = self.store().begin().await?;
        tx.update_department(id, &d, expected_version, self.now())
            .await?;
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.department.update", "department", id),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.department(ctx, id).await
    }

    pub async fn set_department_active(
        &self,
        ctx: &Ctx,
        id: Uuid,
        active: bool,
    ) -> Result<Department> {
        let dep = self.department(ctx, id).await?;
        let action = if active {
            "registry.department.activate"
        } else {
            "registry.department.deactivate"
        };
        self.can_write(ctx, Some(dep.institution_id), ev(action, "department", id))
            .await?;
        if !active && dep.staff_count > 0 {
            return Err(AppError::conflict(
                None,
                msg!("org.department_has_staff", staff_count = dep.staff_count),
            ));
        }
        let mut tx = self.store().begin().await?;
        tx.set_active(Registry::Department, id, active, self.now())
            .await?;
        self.audit_in(&mut tx, ctx, ev(action, "department", id), Outcome::Allowed)
            .await?;
        tx.commit().await?;
        self.department(ctx, id).await
    }

    // ------------------------------------------------------------ staff

    pub async fn staff_member(&self, ctx: &Ctx, id: Uuid) -> Result<Staff> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        self.store()
            .staff_member(id)
            .await?
            .ok_or(AppError::NotFound("staff"))
    }

    pub async fn list_staff(&self, ctx: &Ctx, f: &StaffFilter) -> Result<(Vec<Staff>, i64)> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        let total = self.store().count_staff(f).await?;
        Ok((self.store().list_staff(f).await?, total))
    }

    async fn check_staff_refs(
        &self,
        tx: &mut Tx,
        institution_id: Uuid,
        department_id: Option<Uuid>,
    ) -> Result<()> {
        match tx.institution_tier(institution_id).await? {
            Some((_, true)) => {}
            _ => return Err(not_found_ref("institution_id")),
        }
        if let Some(dep) = department_id {
            match tx.department_owner(dep).await? {
                Some((owner, true)) if owner == institution_id => {}
                Some((_, true)) => {
                    return Err(AppError::Invalid(
                        ValidationError::new(
                            "department_id",
                            Reason::Other(msg!("org.department_elsewhere")),
                        )
                        .into(),
                    ));
                }
                _ => return Err(not_found_ref("department_id")),
            }
        }
        Ok(())
    }

    pub async fn create_staff(&self, ctx: &Ctx, draft: &StaffDraft) -> Result<Staff> {
        let d = draft.parse()?;
        self.can_write(
            ctx,
            Some(d.institution_id),
            ev("registry.staff.create", "institution", d.institution_id),
        )
        .await?;
        let mut tx = self.store().begin().await?;
        self.check_staff_refs(&mut tx, d.institution_id, d.department_id)
            .await?;
        let id = new_id();
        tx.insert_staff(id, &d, self.now()).await?;
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.staff.create", "staff", id),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.staff_member(ctx, id).await
    }

    pub async fn update_staff(
        &self,
        ctx: &Ctx,
        id: Uuid,
        draft: &StaffDraft,
        expected_version: Option<i64>,
    ) -> Result<Staff> {
        let d = draft.parse()?;
        let before = self.staff_member(ctx, id).await?;
        for inst in [before.institution_id, d.institution_id] {
            self.can_write(ctx, Some(inst), ev("registry.staff.update", "staff", id))
                .await?;
        }
        let mut tx = self.store().begin().await?;
        self.check_staff_refs(&mut tx, d.institution_id, d.department_id)
            .await?;
        tx.update_staff(id, &d, expected_version, self.now())
            .await?;
        self.audit_in(
            &mut tx,
            ctx,
            ev("registry.staff.update", "staff", id),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.staff_member(ctx, id).await
    }

    pub async fn set_staff_active(&self, ctx: &Ctx, id: Uuid, active: bool) -> Result<Staff> {
        let before = self.staff_member(ctx, id).await?;
        let action = if active {
            "registry.staff.activate"
        } else {
            "registry.staff.deactivate"
        };
        self.can_write(ctx, Some(before.institution_id), ev(action, "staff", id))
            .await?;
        let mut tx = self.store().begin().await?;
        tx.set_active(Registry::Staff, id, active, self.now())
            .await?;
        self.audit_in(&mut tx, ctx, ev(action, "staff", id), Outcome::Allowed)
            .await?;
        tx.commit().await?;
        self.staff_member(ctx, id).await
    }

    // ------------------------------------------------------------ search

    /// Institutions by name or alias, staff by name or licence number.
    pub async fn search(&self, ctx: &Ctx, text: &str, limit: i64) -> Result<SearchResults> {
        self.require(ctx, Permission::RegistryRead, read_event())
            .await?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(SearchResults::default());
        }
        let institutions = self
            .store()
            .list_institutions(&InstitutionFilter {
                q: Some(text.to_owned()),
                limit: Some(limit),
                ..Default::default()
            })
            .await?;
        let staff = self
            .store()
            .list_staff(&StaffFilter {
                q: Some(text.to_owned()),
                limit: Some(limit),
                ..Default::default()
            })
            .await?;
        Ok(SearchResults {
            institutions,
            staff,
        })
    }
}

/// Builds the forest from a flat list ordered by tier then name.
pub fn build_tree(all: Vec<Institution>) -> Vec<TreeNode> {
    use std::collections::{HashMap, HashSet};
    let ids: HashSet<Uuid> = all.iter().map(|i| i.id).collect();
    let mut by_parent: HashMap<Option<Uuid>, Vec<Institution>> = HashMap::new();
    for i in all {
        let key = i.parent_id.filter(|p| ids.contains(p));
        by_parent.entry(key).or_default().push(i);
    }
    fn grow(
        parent: Option<Uuid>,
        by_parent: &mut HashMap<Option<Uuid>, Vec<Institution>>,
        depth: usize,
    ) -> Vec<TreeNode> {
        let kids = by_parent.remove(&parent).unwrap_or_default();
        kids.into_iter()
            .map(|inst| {
                let children = if depth < 8 {
                    grow(Some(inst.id), by_parent, depth + 1)
                } else {
                    Vec::new()
                };
                TreeNode {
                    institution: inst,
                    children,
                }
            })
            .collect()
    }
    let mut roots = grow(None, &mut by_parent, 0);
    // The lead hospitals first: county general, TCM, MCH, then the rest; by name within a kind.
    roots.sort_by(|a, b| {
        (a.institution.kind, &a.institution.name).cmp(&(b.institution.kind, &b.institution.name))
    });
    roots
}

impl App {
    /// A staff record with its full ID and phone numbers, for people who maintain it. Lists and
    /// pages show masked numbers; this reveal is audited.
    pub async fn reveal_staff(&self, ctx: &Ctx, id: Uuid) -> Result<Staff> {
        let st = self.staff_member(ctx, id).await?;
        self.can_write(
            ctx,
            Some(st.institution_id),
            ev("registry.staff.reveal", "staff", id),
        )
        .await?;
        self.audit(
            ctx,
            ev("registry.staff.reveal", "staff", id).detail("id_number, phone"),
            Outcome::Allowed,
        )
        .await?;
        Ok(st)
    }
}
