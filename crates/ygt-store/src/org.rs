//! Organisation registry storage: communities, institutions, departments, staff.

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::org::{
    AllianceForm, CommunityData, DepartmentData, InstitutionData, InstitutionType,
    ProfessionalTitle, ServiceKind, StaffData, Tier,
};

use crate::{Result, Sql, Store, StoreError, Tx};

/// Tables whose rows are deactivated rather than deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    Community,
    Institution,
    Department,
    Staff,
}

impl Registry {
    fn table(self) -> &'static str {
        match self {
            Registry::Community => "communities",
            Registry::Institution => "institutions",
            Registry::Department => "departments",
            Registry::Staff => "staff",
        }
    }
}

fn parse_code<T>(
    column: &str,
    s: &str,
    f: impl Fn(&str, &str) -> std::result::Result<T, ygt_domain::ValidationError>,
) -> Result<T> {
    f(column, s).map_err(|_| StoreError::Corrupt(column.to_owned()))
}

#[derive(sqlx::FromRow)]
struct InstitutionRow {
    id: Uuid,
    name: String,
    kind: String,
    tier: String,
    parent_id: Option<Uuid>,
    uscc: Option<String>,
    division_code: String,
    address: Option<String>,
    phone: Option<String>,
    active: bool,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    staff_count: i64,
    children_count: i64,
    beds: i64,
}

/// A stored institution with its aliases, services and a few counts.
#[derive(Debug, Clone)]
pub struct Institution {
    pub id: Uuid,
    pub name: String,
    pub aliases: Vec<String>,
    pub kind: InstitutionType,
    pub tier: Tier,
    pub parent_id: Option<Uuid>,
    pub uscc: Option<String>,
    pub division_code: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub services: Vec<ServiceKind>,
    pub active: bool,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Active staff.
    pub staff_count: i64,
    /// Active institutions whose parent this is.
    pub children_count: i64,
    /// Staffed beds over active departments.
    pub beds: i64,
}

const INSTITUTION_COLUMNS: &str = "SELECT i.id, i.name, i.kind, i.tier, i.parent_id, i.uscc, \
     i.division_code, i.address, i.phone, i.active, i.version, i.created_at, i.updated_at, \
     (SELECT COUNT(*) FROM staff s WHERE s.institution_id = i.id AND s.active = TRUE) AS staff_count, \
     (SELECT COUNT(*) FROM institutions c WHERE c.parent_id = i.id AND c.active = TRUE) AS children_count, \
     CAST(COALESCE((SELECT SUM(d.beds) FROM departments d WHERE d.institution_id = i.id AND d.active = TRUE), 0) AS BIGINT) AS beds \
     FROM institutions i";

/// Which institutions to list.
#[derive(Debug, Clone, Default)]
pub struct InstitutionFilter {
    pub tier: Option<Tier>,
    pub kind: Option<InstitutionType>,
    pub parent_id: Option<Uuid>,
    /// Part of the name or of an alias.
    pub q: Option<String>,
    /// Only institutions that are members of this community.
    pub community_id: Option<Uuid>,
    pub include_inactive: bool,
    pub limit: Option<i64>,
    pub offset: i64,
}

impl InstitutionFilter {
    fn where_clause(&self, q: &mut Sql) {
        q.push(" WHERE 1 = 1");
        if !self.include_inactive {
            q.push(" AND i.active = TRUE");
        }
        if let Some(t) = self.tier {
            q.push(" AND i.tier = ").bind(t.code());
        }
        if let Some(k) = self.kind {
            q.push(" AND i.kind = ").bind(k.code());
        }
        if let Some(p) = self.parent_id {
            q.push(" AND i.parent_id = ").bind(p);
        }
        if let Some(c) = self.community_id {
            q.push(" AND i.id IN (SELECT m.institution_id FROM community_members m WHERE m.left_at IS NULL AND m.community_id = ")
                .bind(c)
                .push(")");
        }
        if let Some(text) = self.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let pat = like_pattern(text);
            q.push(" AND (LOWER(i.name) LIKE ")
                .bind(pat.clone())
                .push(" ESCAPE '\\' OR i.id IN (SELECT a.institution_id FROM institution_aliases a WHERE LOWER(a.alias) LIKE ")
                .bind(pat)
                .push(" ESCAPE '\\'))");
        }
    }
}

/// `%text%` with LIKE wildcards in the text escaped, lower-cased.
pub fn like_pattern(text: &str) -> String {
    format!("%{}%", like_escape(text))
}

/// `text` lower-cased with the LIKE wildcards escaped (for `ESCAPE '\\'`), to build a pattern.
pub fn like_escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

fn tier_order() -> &'static str {
    "CASE i.tier WHEN 'county' THEN 0 WHEN 'township' THEN 1 ELSE 2 END"
}

/// An alias (`kind` 'a', in order of `position`) or a service ('s') of an institution.
#[derive(sqlx::FromRow)]
struct NameRow {
    institution_id: Uuid,
    kind: String,
    value: String,
}

impl Store {
    /// Adds aliases and services to institution rows: one statement per 500 rows.
    async fn hydrate(&self, rows: Vec<InstitutionRow>) -> Result<Vec<Institution>> {
        let mut aliases: HashMap<Uuid, Vec<String>> = HashMap::new();
        let mut services: HashMap<Uuid, Vec<ServiceKind>> = HashMap::new();
        for chunk in rows.chunks(500) {
            let ids = chunk.iter().map(|r| r.id);
            let mut q = Sql::new(
                "SELECT institution_id, 'a' AS kind, alias AS value, position \
                 FROM institution_aliases WHERE institution_id IN ",
            );
            q.bind_list(ids.clone()).push(
                " UNION ALL SELECT institution_id, 's', service, 0 \
                 FROM institution_services WHERE institution_id IN ",
            );
            q.bind_list(ids).push(" ORDER BY 2, 4");
            for n in self.fetch_all::<NameRow>(q).await? {
                if n.kind == "a" {
                    aliases.entry(n.institution_id).or_default().push(n.value);
                } else {
                    let kind = parse_code("service", &n.value, ServiceKind::parse)?;
                    services.entry(n.institution_id).or_default().push(kind);
                }
            }
        }
        rows.into_iter()
            .map(|r| {
                let mut svc = services.remove(&r.id).unwrap_or_default();
                svc.sort();
                Ok(Institution {
                    aliases: aliases.remove(&r.id).unwrap_or_default(),
                    services: svc,
                    kind: parse_code("kind", &r.kind, InstitutionType::parse)?,
                    tier: parse_code("tier", &r.tier, Tier::parse)?,
                    id: r.id,
                    name: r.name,
                    parent_id: r.parent_id,
                    uscc: r.uscc,
                    division_code: r.division_code,
                    address: r.address,
                    phone: r.phone,
                    active: r.active,
                    version: r.version,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                    staff_count: r.staff_count,
                    children_count: r.children_count,
                    beds: r.beds,
                })
            })
            .collect()
    }

    pub async fn institution(&self, id: Uuid) -> Result<Option<Institution>> {
        let mut q = Sql::new(INSTITUTION_COLUMNS);
        q.push(" WHERE i.id = ").bind(id);
        let rows = self.fetch_all::<InstitutionRow>(q).await?;
        Ok(self.hydrate(rows).await?.into_iter().next())
    }

    /// Institutions ordered by tier, then name.
    pub async fn list_institutions(&self, f: &InstitutionFilter) -> Result<Vec<Institution>> {
        let mut q = Sql::new(INSTITUTION_COLUMNS);
        f.where_clause(&mut q);
        q.push(" ORDER BY ")
            .push(tier_order())
            .push(", i.name, i.id");
        if let Some(l) = f.limit {
            q.push(" LIMIT ").bind(l).push(" OFFSET ").bind(f.offset);
        }
        let rows = self.fetch_all::<InstitutionRow>(q).await?;
        self.hydrate(rows).await
    }

    pub async fn count_institutions(&self, f: &InstitutionFilter) -> Result<i64> {
        let mut q = Sql::new("SELECT COUNT(*) FROM institutions i");
        f.where_clause(&mut q);
        let (n,): (i64,) = self.fetch_one(q).await?;
        Ok(n)
    }
}

impl Tx {
    /// Tier and active flag of an institution, to check references inside a write.
    pub async fn institution_tier(&mut self, id: Uuid) -> Result<Option<(Tier, bool)>> {
        let mut q = Sql::new("SELECT tier, active FROM institutions WHERE id = ");
        q.bind(id);
        match self.fetch_optional::<(String, bool)>(q).await? {
            Some((t, a)) => Ok(Some((parse_code("tier", &t, Tier::parse)?, a))),
            None => Ok(None),
        }
    }

    /// Which of these institutions exist (to check the references of a bulk write at once).
    pub async fn existing_institutions(
        &mut self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashSet<Uuid>> {
        let mut out = std::collections::HashSet::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut q = Sql::new("SELECT id FROM institutions WHERE id IN ");
            q.bind_list(chunk.iter().copied());
            let rows: Vec<(Uuid,)> = self.fetch_all(q).await?;
            out.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(out)
    }

    /// Whether `ancestor` is `id` or above it in the parent chain (to refuse cycles).
    pub async fn is_ancestor_or_self(&mut self, ancestor: Uuid, id: Uuid) -> Result<bool> {
        let mut cur = Some(id);
        let mut steps = 0;
        while let Some(c) = cur {
            if c == ancestor {
                return Ok(true);
            }
            steps += 1;
            if steps > 64 {
                return Ok(true);
            }
            let mut q = Sql::new("SELECT parent_id FROM institutions WHERE id = ");
            q.bind(c);
            cur = self
                .fetch_optional::<(Option<Uuid>,)>(q)
                .await?
                .and_then(|(p,)| p);
        }
        Ok(false)
    }

    pub async fn insert_institution(
        &mut self,
        id: Uuid,
        d: &InstitutionData,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.principals_changed().await?;
        let q = Sql::new(
            "INSERT INTO institutions (id, name, kind, tier, parent_id, uscc, division_code, \
             address, phone, active, version, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, 1, ?, ?)",
        )
        .arg(id)
        .arg(d.name.as_str())
        .arg(d.kind.code())
        .arg(d.tier.code())
        .arg(d.parent_id)
        .arg(d.uscc.as_ref().map(|u| u.as_str().to_owned()))
        .arg(d.division_code.as_str())
        .arg(d.address.as_deref())
        .arg(d.phone.as_ref().map(|p| p.as_str().to_owned()))
        .arg(now)
        .arg(now);
        self.execute(q).await?;
        self.write_institution_lists(id, d).await
    }

    async fn write_institution_lists(&mut self, id: Uuid, d: &InstitutionData) -> Result<()> {
        self.execute(Sql::new("DELETE FROM institution_aliases WHERE institution_id = ?").arg(id))
            .await?;
        self.execute(Sql::new("DELETE FROM institution_services WHERE institution_id = ?").arg(id))
            .await?;
        for (i, a) in d.aliases.iter().enumerate() {
            let pos = i64::try_from(i).unwrap_or(i64::MAX);
            self.execute(
                Sql::new(
                    "INSERT INTO institution_aliases (institution_id, alias, position) VALUES (?, ?, ?)",
                )
                .arg(id)
                .arg(a.as_str())
                .arg(pos),
            )
            .await?;
        }
        for s in &d.services {
            self.execute(
                Sql::new(
                    "INSERT INTO institution_services (institution_id, service) VALUES (?, ?)",
                )
                .arg(id)
                .arg(s.code()),
            )
            .await?;
        }
        Ok(())
    }

    /// Replaces an institution's fields. With `expected_version`, refuses when the stored row
    /// has another version. Returns the new version.
    pub async fn update_institution(
        &mut self,
        id: Uuid,
        d: &InstitutionData,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.principals_changed().await?;
        let mut q = Sql::new(
            "UPDATE institutions SET name = ?, kind = ?, tier = ?, parent_id = ?, uscc = ?, \
             division_code = ?, address = ?, phone = ?, version = version + 1, updated_at = ? \
             WHERE id = ?",
        )
        .arg(d.name.as_str())
        .arg(d.kind.code())
        .arg(d.tier.code())
        .arg(d.parent_id)
        .arg(d.uscc.as_ref().map(|u| u.as_str().to_owned()))
        .arg(d.division_code.as_str())
        .arg(d.address.as_deref())
        .arg(d.phone.as_ref().map(|p| p.as_str().to_owned()))
        .arg(now)
        .arg(id);
        if let Some(v) = expected_version {
            q.push(" AND version = ").bind(v);
        }
        let n = self.execute(q).await?;
        if n == 0 {
            return Err(self
                .missing_or_conflict(Registry::Institution, id, expected_version)
                .await);
        }
        self.write_institution_lists(id, d).await?;
        self.version_of(Registry::Institution, id).await
    }

    async fn version_of(&mut self, r: Registry, id: Uuid) -> Result<i64> {
        let mut q = Sql::new("SELECT version FROM ");
        q.push(r.table()).push(" WHERE id = ").bind(id);
        let (v,): (i64,) = self.fetch_one(q).await?;
        Ok(v)
    }

    async fn missing_or_conflict(
        &mut self,
        r: Registry,
        id: Uuid,
        expected: Option<i64>,
    ) -> StoreError {
        match (self.version_of(r, id).await, expected) {
            (Ok(_), Some(expected)) => StoreError::VersionConflict { expected },
            (Ok(_), None) => StoreError::NotFound,
            (Err(e), _) => e,
        }
    }

    /// Activates or deactivates a row of a registry (nothing is ever deleted). Returns the new version.
    pub async fn set_active(
        &mut self,
        r: Registry,
        id: Uuid,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let mut q = Sql::new("UPDATE ");
        q.push(r.table())
            .push(" SET active = ")
            .bind(active)
            .push(", version = version + 1, updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id);
        if self.execute(q).await? == 0 {
            return Err(StoreError::NotFound);
        }
        self.version_of(r, id).await
    }
}

// ---------------------------------------------------------------- communities

#[derive(sqlx::FromRow)]
struct CommunityRow {
    id: Uuid,
    name: String,
    form: String,
    lead_institution_id: Option<Uuid>,
    division_code: Option<String>,
    description: Option<String>,
    active: bool,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    member_count: i64,
}

#[derive(Debug, Clone)]
pub struct Community {
    pub id: Uuid,
    pub name: String,
    pub form: AllianceForm,
    pub lead_institution_id: Option<Uuid>,
    pub division_code: Option<String>,
    pub description: Option<String>,
    pub active: bool,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub member_count: i64,
}

impl TryFrom<CommunityRow> for Community {
    type Error = StoreError;
    fn try_from(r: CommunityRow) -> Result<Self> {
        Ok(Community {
            form: parse_code("form", &r.form, AllianceForm::parse)?,
            id: r.id,
            name: r.name,
            lead_institution_id: r.lead_institution_id,
            division_code: r.division_code,
            description: r.description,
            active: r.active,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            member_count: r.member_count,
        })
    }
}

const COMMUNITY_COLUMNS: &str = "SELECT c.id, c.name, c.form, c.lead_institution_id, \
    c.division_code, c.description, c.active, c.version, c.created_at, c.updated_at, \
    (SELECT COUNT(*) FROM community_members m WHERE m.community_id = c.id AND m.left_at IS NULL) AS member_count \
    FROM communities c";

impl Store {
    /// Every name of the registry a password must not be built from: the communities', the
    /// institutions' and their aliases (active or not), each once.
    pub async fn registry_names(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = self
            .fetch_all(Sql::new(
                "SELECT name FROM communities UNION SELECT name FROM institutions \
                 UNION SELECT alias FROM institution_aliases",
            ))
            .await?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    pub async fn list_communities(&self, include_inactive: bool) -> Result<Vec<Community>> {
        let mut q = Sql::new(COMMUNITY_COLUMNS);
        if !include_inactive {
            q.push(" WHERE c.active = TRUE");
        }
        q.push(" ORDER BY c.name, c.id");
        self.fetch_all::<CommunityRow>(q)
            .await?
            .into_iter()
            .map(Community::try_from)
            .collect()
    }

    pub async fn community(&self, id: Uuid) -> Result<Option<Community>> {
        let mut q = Sql::new(COMMUNITY_COLUMNS);
        q.push(" WHERE c.id = ").bind(id);
        self.fetch_optional::<CommunityRow>(q)
            .await?
            .map(Community::try_from)
            .transpose()
    }

    /// Communities an institution is a current member of.
    pub async fn communities_of(&self, institution_id: Uuid) -> Result<Vec<Community>> {
        let mut q = Sql::new(COMMUNITY_COLUMNS);
        q.push(" WHERE c.id IN (SELECT m.community_id FROM community_members m WHERE m.left_at IS NULL AND m.institution_id = ")
            .bind(institution_id)
            .push(") ORDER BY c.name");
        self.fetch_all::<CommunityRow>(q)
            .await?
            .into_iter()
            .map(Community::try_from)
            .collect()
    }
}

impl Tx {
    pub async fn insert_community(
        &mut self,
        id: Uuid,
        d: &CommunityData,
        now: OffsetDateTime,
    ) -> Result<()> {
        let q = Sql::new(
            "INSERT INTO communities (id, name, form, lead_institution_id, division_code, description, \
             active, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, TRUE, 1, ?, ?)",
        )
        .arg(id)
        .arg(d.name.as_str())
        .arg(d.form.code())
        .arg(d.lead_institution_id)
        .arg(d.division_code.as_ref().map(|c| c.as_str().to_owned()))
        .arg(d.description.as_deref())
        .arg(now)
        .arg(now);
        self.execute(q).await?;
        Ok(())
    }

    pub async fn update_community(
        &mut self,
        id: Uuid,
        d: &CommunityData,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let mut q = Sql::new(
            "UPDATE communities SET name = ?, form = ?, lead_institution_id = ?, division_code = ?, \
             description = ?, version = version + 1, updated_at = ? WHERE id = ?",
        )
        .arg(d.name.as_str())
        .arg(d.form.code())
        .arg(d.lead_institution_id)
        .arg(d.division_code.as_ref().map(|c| c.as_str().to_owned()))
        .arg(d.description.as_deref())
        .arg(now)
        .arg(id);
        if let Some(v) = expected_version {
            q.push(" AND version = ").bind(v);
        }
        if self.execute(q).await? == 0 {
            return Err(self
                .missing_or_conflict(Registry::Community, id, expected_version)
                .await);
        }
        self.version_of(Registry::Community, id).await
    }

    /// Adds an institution to a community (or brings it back after it left).
    pub async fn add_member(
        &mut self,
        community_id: Uuid,
        institution_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<()> {
        let n = self
            .execute(
                Sql::new(
                    "UPDATE community_members SET left_at = NULL, joined_at = ? \
                     WHERE community_id = ? AND institution_id = ? AND left_at IS NOT NULL",
                )
                .arg(now)
                .arg(community_id)
                .arg(institution_id),
            )
            .await?;
        if n == 0 {
            let exists = self
                .fetch_optional::<(i64,)>(
                    Sql::new(
                        "SELECT CAST(1 AS BIGINT) FROM community_members WHERE community_id = ? AND institution_id = ?",
                    )
                    .arg(community_id)
                    .arg(institution_id),
                )
                .await?;
            if exists.is_none() {
                self.execute(
                    Sql::new(
                        "INSERT INTO community_members (community_id, institution_id, joined_at) VALUES (?, ?, ?)",
                    )
                    .arg(community_id)
                    .arg(institution_id)
                    .arg(now),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Records that an institution left a community. Returns false when it was not a member.
    pub async fn remove_member(
        &mut self,
        community_id: Uuid,
        institution_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = self
            .execute(
                Sql::new(
                    "UPDATE community_members SET left_at = ? \
                     WHERE community_id = ? AND institution_id = ? AND left_at IS NULL",
                )
                .arg(now)
                .arg(community_id)
                .arg(institution_id),
            )
            .await?;
        Ok(n > 0)
    }
}

// ---------------------------------------------------------------- departments

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Department {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub name: String,
    pub code: Option<String>,
    pub beds: i64,
    pub phone: Option<String>,
    pub active: bool,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub staff_count: i64,
}

const DEPARTMENT_COLUMNS: &str = "SELECT d.id, d.institution_id, d.name, d.code, d.beds, d.phone, \
    d.active, d.version, d.created_at, d.updated_at, \
    (SELECT COUNT(*) FROM staff s WHERE s.department_id = d.id AND s.active = TRUE) AS staff_count \
    FROM departments d";

impl Store {
    pub async fn departments(
        &self,
        institution_id: Uuid,
        include_inactive: bool,
    ) -> Result<Vec<Department>> {
        let mut q = Sql::new(DEPARTMENT_COLUMNS);
        q.push(" WHERE d.institution_id = ").bind(institution_id);
        if !include_inactive {
            q.push(" AND d.active = TRUE");
        }
        q.push(" ORDER BY d.name, d.id");
        self.fetch_all(q).await
    }

    pub async fn department(&self, id: Uuid) -> Result<Option<Department>> {
        let mut q = Sql::new(DEPARTMENT_COLUMNS);
        q.push(" WHERE d.id = ").bind(id);
        self.fetch_optional(q).await
    }
}

impl Tx {
    /// Institution and active flag of a department, to check references inside a write.
    pub async fn department_owner(&mut self, id: Uuid) -> Result<Option<(Uuid, bool)>> {
        self.fetch_optional(
            Sql::new("SELECT institution_id, active FROM departments WHERE id = ?").arg(id),
        )
        .await
    }

    pub async fn insert_department(
        &mut self,
        id: Uuid,
        institution_id: Uuid,
        d: &DepartmentData,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO departments (id, institution_id, name, code, beds, phone, active, version, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, TRUE, 1, ?, ?)",
            )
            .arg(id)
            .arg(institution_id)
            .arg(d.name.as_str())
            .arg(d.code.as_deref())
            .arg(d.beds)
            .arg(d.phone.as_ref().map(|p| p.as_str().to_owned()))
            .arg(now)
            .arg(now),
        )
        .await?;
        Ok(())
    }

    pub async fn update_department(
        &mut self,
        id: Uuid,
        d: &DepartmentData,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let mut q = Sql::new(
            "UPDATE departments SET name = ?, code = ?, beds = ?, phone = ?, version = version + 1, \
             updated_at = ? WHERE id = ?",
        )
        .arg(d.name.as_str())
        .arg(d.code.as_deref())
        .arg(d.beds)
        .arg(d.phone.as_ref().map(|p| p.as_str().to_owned()))
        .arg(now)
        .arg(id);
        if let Some(v) = expected_version {
            q.push(" AND version = ").bind(v);
        }
        if self.execute(q).await? == 0 {
            return Err(self
                .missing_or_conflict(Registry::Department, id, expected_version)
                .await);
        }
        self.version_of(Registry::Department, id).await
    }
}

// ---------------------------------------------------------------- staff

#[derive(sqlx::FromRow)]
struct StaffRow {
    id: Uuid,
    institution_id: Uuid,
    institution_name: String,
    department_id: Option<Uuid>,
    department_name: Option<String>,
    name: String,
    sex: String,
    title: String,
    licence_number: Option<String>,
    id_number: Option<String>,
    phone: Option<String>,
    active: bool,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

/// A stored staff member, with the names of their institution and department.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub institution_name: String,
    pub department_id: Option<Uuid>,
    pub department_name: Option<String>,
    pub name: String,
    pub sex: ygt_domain::ident::Sex,
    pub title: ProfessionalTitle,
    pub licence_number: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub active: bool,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<StaffRow> for Staff {
    type Error = StoreError;
    fn try_from(r: StaffRow) -> Result<Self> {
        Ok(Staff {
            sex: parse_code("sex", &r.sex, ygt_domain::ident::Sex::parse)?,
            title: parse_code("title", &r.title, ProfessionalTitle::parse)?,
            id: r.id,
            institution_id: r.institution_id,
            institution_name: r.institution_name,
            department_id: r.department_id,
            department_name: r.department_name,
            name: r.name,
            licence_number: r.licence_number,
            id_number: r.id_number,
            phone: r.phone,
            active: r.active,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const STAFF_COLUMNS: &str = "SELECT s.id, s.institution_id, i.name AS institution_name, \
    s.department_id, d.name AS department_name, s.name, s.sex, s.title, s.licence_number, \
    s.id_number, s.phone, s.active, s.version, s.created_at, s.updated_at \
    FROM staff s JOIN institutions i ON i.id = s.institution_id \
    LEFT JOIN departments d ON d.id = s.department_id";

#[derive(Debug, Clone, Default)]
pub struct StaffFilter {
    pub institution_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub title: Option<ProfessionalTitle>,
    /// Part of the name or the licence number.
    pub q: Option<String>,
    pub include_inactive: bool,
    pub limit: Option<i64>,
    pub offset: i64,
}

impl StaffFilter {
    fn where_clause(&self, q: &mut Sql) {
        q.push(" WHERE 1 = 1");
        if !self.include_inactive {
            q.push(" AND s.active = TRUE");
        }
        if let Some(i) = self.institution_id {
            q.push(" AND s.institution_id = ").bind(i);
        }
        if let Some(d) = self.department_id {
            q.push(" AND s.department_id = ").bind(d);
        }
        if let Some(t) = self.title {
            q.push(" AND s.title = ").bind(t.code());
        }
        if let Some(text) = self.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let pat = like_pattern(text);
            q.push(" AND (LOWER(s.name) LIKE ")
                .bind(pat.clone())
                .push(" ESCAPE '\\' OR LOWER(s.licence_number) LIKE ")
                .bind(pat)
                .push(" ESCAPE '\\')");
        }
    }
}

impl Store {
    pub async fn staff_member(&self, id: Uuid) -> Result<Option<Staff>> {
        let mut q = Sql::new(STAFF_COLUMNS);
        q.push(" WHERE s.id = ").bind(id);
        self.fetch_optional::<StaffRow>(q)
            .await?
            .map(Staff::try_from)
            .transpose()
    }

    pub async fn list_staff(&self, f: &StaffFilter) -> Result<Vec<Staff>> {
        let mut q = Sql::new(STAFF_COLUMNS);
        f.where_clause(&mut q);
        q.push(" ORDER BY s.name, s.id");
        if let Some(l) = f.limit {
            q.push(" LIMIT ").bind(l).push(" OFFSET ").bind(f.offset);
        }
        self.fetch_all::<StaffRow>(q)
            .await?
            .into_iter()
            .map(Staff::try_from)
            .collect()
    }

    pub async fn count_staff(&self, f: &StaffFilter) -> Result<i64> {
        let mut q = Sql::new("SELECT COUNT(*) FROM staff s");
        f.where_clause(&mut q);
        let (n,): (i64,) = self.fetch_one(q).await?;
        Ok(n)
    }
}

impl Tx {
    pub async fn insert_staff(
        &mut self,
        id: Uuid,
        d: &StaffData,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO staff (id, institution_id, department_id, name, sex, title, licence_number, \
                 id_number, phone, active, version, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, 1, ?, ?)",
            )
            .arg(id)
            .arg(d.institution_id)
            .arg(d.department_id)
            .arg(d.name.as_str())
            .arg(d.sex.code())
            .arg(d.title.code())
            .arg(d.licence_number.as_ref().map(|l| l.as_str().to_owned()))
            .arg(d.id_number.as_ref().map(|l| l.as_str().to_owned()))
            .arg(d.phone.as_ref().map(|p| p.as_str().to_owned()))
            .arg(now)
            .arg(now),
        )
        .await?;
        Ok(())
    }

    pub async fn update_staff(
        &mut self,
        id: Uuid,
        d: &StaffData,
        expected_version: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let mut q = Sql::new(
            "UPDATE staff SET institution_id = ?, department_id = ?, name = ?, sex = ?, title = ?, \
             licence_number = ?, id_number = ?, phone = ?, version = version + 1, updated_at = ? \
             WHERE id = ?",
        )
        .arg(d.institution_id)
        .arg(d.department_id)
        .arg(d.name.as_str())
        .arg(d.sex.code())
        .arg(d.title.code())
        .arg(d.licence_number.as_ref().map(|l| l.as_str().to_owned()))
        .arg(d.id_number.as_ref().map(|l| l.as_str().to_owned()))
        .arg(d.phone.as_ref().map(|p| p.as_str().to_owned()))
        .arg(now)
        .arg(id);
        if let Some(v) = expected_version {
            q.push(" AND version = ").bind(v);
        }
        if self.execute(q).await? == 0 {
            return Err(self
                .missing_or_conflict(Registry::Staff, id, expected_version)
                .await);
        }
        self.version_of(Registry::Staff, id).await
    }
}

// ---------------------------------------------------------------- overview

/// Counts for the home page.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub communities: i64,
    pub county: i64,
    pub township: i64,
    pub village: i64,
    pub staff: i64,
    pub beds: i64,
}

impl Store {
    /// The registry in figures: one statement.
    pub async fn overview(&self) -> Result<Overview> {
        let rows: Vec<(String, i64)> = self
            .fetch_all(Sql::new(
                "SELECT tier, COUNT(*) FROM institutions WHERE active = TRUE GROUP BY tier \
                 UNION ALL SELECT 'communities', COUNT(*) FROM communities WHERE active = TRUE \
                 UNION ALL SELECT 'staff', COUNT(*) FROM staff WHERE active = TRUE \
                 UNION ALL SELECT 'beds', CAST(COALESCE(SUM(beds), 0) AS BIGINT) \
                 FROM departments WHERE active = TRUE",
            ))
            .await?;
        let mut o = Overview::default();
        for (t, n) in rows {
            match t.as_str() {
                "county" => o.county = n,
                "township" => o.township = n,
                "communities" => o.communities = n,
                "staff" => o.staff = n,
                "beds" => o.beds = n,
                _ => o.village += n,
            }
        }
        Ok(o)
    }
}

impl Store {
    /// An institution and every institution below it (active or not), for data scope; the
    /// institution first. One statement (a recursive query; UNION ends a cycle).
    pub async fn institution_and_descendants(&self, root: Uuid) -> Result<Vec<Uuid>> {
        let rows: Vec<(Uuid,)> = self
            .fetch_all(
                Sql::new(
                    "WITH RECURSIVE below (id) AS (SELECT id FROM institutions WHERE id = ? \
                     UNION SELECT i.id FROM institutions i JOIN below b ON i.parent_id = b.id) \
                     SELECT id FROM below",
                )
                .arg(root),
            )
            .await?;
        let mut all = vec![root];
        all.extend(rows.into_iter().map(|(id,)| id).filter(|id| *id != root));
        Ok(all)
    }
}
