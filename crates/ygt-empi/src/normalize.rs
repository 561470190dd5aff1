//! Text normalisation: full-width forms, variant characters, names, phone
//! numbers, addresses and other identifiers.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Reads a full-width form (U+FF01..=U+FF5E, U+3000) as its ASCII counterpart.
pub(crate) fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Traditional and variant forms seen in names and addresses, each followed
/// by its simplified standard form.
const VARIANTS: &str = "陳陈張张劉刘黃黄趙赵吳吴鄭郑峯峰裏里裡里鍾钟鐘钟錢钱楊杨孫孙馬马\
許许葉叶蔣蒋蕭萧謝谢韓韩馮冯鄧邓盧卢蘇苏羅罗顧顾龍龙萬万嚴严陸陆賈贾閆闫閻阎鄒邹\
譚谭賴赖鄔邬湯汤聶聂簡简鳳凤華华國国麗丽雲云偉伟紅红軍军東东興兴強强濤涛鵬鹏輝辉\
傑杰蘭兰嬌娇艷艳豔艳愛爱貴贵義义勝胜寶宝鋒锋樂乐榮荣慶庆廣广進进長长發发會会開开\
飛飞鳴鸣聰聪靜静潔洁瑩莹穎颖歡欢儀仪潤润濱滨劍剑韋韦達达龔龚羣群綫线衞卫衛卫岡冈\
喬乔齊齐錦锦銘铭順顺雙双彥彦鄉乡鎮镇縣县區区號号組组廠厂際际園园灣湾橋桥莊庄滙汇\
匯汇溝沟嶺岭峽峡壩坝灘滩曉晓紀纪陽阳衆众堃坤喆哲昇升珮佩媛媛秀秀淑淑蓮莲鳯凤\
葦苇鋼钢鐵铁銀银寧宁寳宝戰战輩辈詩诗書书畫画雞鸡鳥鸟魚鱼貓猫龜龟廟庙節节傳传\
韻韵馨馨琦琦瑋玮璽玺頌颂權权賢贤莊庄圓圆蘊蕴禮礼瑪玛麥麦黎黎翁翁韜韬鴻鸿燁烨煒炜\
貞贞親亲愷恺凱凯樺桦瓊琼勳勋勛勋濟济澤泽瀟潇灝灏颯飒麒麒驥骥驍骁驊骅鵑鹃鶯莺鸞鸾\
嬋婵娟娟嫻娴巖岩嶽岳峴岘崗岗嵐岚彎弯彙汇懷怀應应斂敛於于與与憶忆戀恋";

fn variant_table() -> &'static HashMap<char, char> {
    static TABLE: OnceLock<HashMap<char, char>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let chars: Vec<char> = VARIANTS.chars().collect();
        chars
            .chunks_exact(2)
            .filter_map(|pair| match pair {
                [from, to] if from != to => Some((*from, *to)),
                _ => None,
            })
            .collect()
    })
}

/// The standard simplified form of a traditional or variant character.
pub(crate) fn standard_char(c: char) -> char {
    variant_table().get(&c).copied().unwrap_or(c)
}

/// Whether `c` is a CJK unified ideograph (basic block, extensions A and B,
/// compatibility ideographs) or the ideographic zero.
pub(crate) fn is_han(c: char) -> bool {
    matches!(u32::from(c),
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF | 0x3007)
}

/// Half-width, standard characters, no whitespace (control characters too).
pub(crate) fn basic(s: &str) -> String {
    s.chars()
        .map(half_width)
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .map(standard_char)
        .collect()
}

/// ASCII digits of `s` after making it half-width.
pub(crate) fn digits(s: &str) -> String {
    s.chars()
        .map(half_width)
        .filter(char::is_ascii_digit)
        .collect()
}

/// Number of distinct bytes: placeholders such as `00000000000` have one.
pub(crate) fn distinct_bytes(s: &[u8]) -> usize {
    let mut seen = [false; 256];
    let mut n = 0;
    for &b in s {
        let slot = &mut seen[usize::from(b)];
        if !*slot {
            *slot = true;
            n += 1;
        }
    }
    n
}

/// Phone number as digits, with a leading `+86`/`0086`/`86` country code
/// dropped from mobile numbers. `None` for fewer than 7 digits or a
/// placeholder made of at most two distinct digits.
pub(crate) fn phone(s: &str) -> Option<String> {
    let mut d = digits(s);
    for prefix in ["0086", "86"] {
        if d.len() == 11 + prefix.len()
            && d.starts_with(prefix)
            && d[prefix.len()..].starts_with('1')
        {
            d = d[prefix.len()..].to_owned();
            break;
        }
    }
    (d.len() >= 7 && distinct_bytes(d.as_bytes()) > 2).then_some(d)
}

/// Other identifiers (insurance number, health card, ...): ASCII letters and
/// digits, upper case; `None` when shorter than 4 or a placeholder.
pub(crate) fn other_id(s: &str) -> Option<String> {
    let t: String = s
        .chars()
        .map(half_width)
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (t.len() >= 4 && distinct_bytes(t.as_bytes()) > 1).then_some(t)
}

/// Value of a Chinese numeral character (`〇`/`零` to `九`).
fn cn_digit(c: char) -> Option<u32> {
    Some(match c {
        '〇' | '零' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// Value of a run of Chinese numerals such as `三`, `十二`, `二十`, `二十三`,
/// `一〇五`; `None` for anything else.
fn cn_number(run: &[char]) -> Option<u32> {
    if run.contains(&'十') {
        let pos = run.iter().position(|&c| c == '十')?;
        let tens = match &run[..pos] {
            [] => 1,
            [d] => cn_digit(*d)?,
            _ => return None,
        };
        let ones = match &run[pos + 1..] {
            [] => 0,
            [d] => cn_digit(*d)?,
            _ => return None,
        };
        Some(tens * 10 + ones)
    } else {
        run.iter().try_fold(0u32, |acc, &c| {
            cn_digit(c).map(|d| acc.saturating_mul(10).saturating_add(d))
        })
    }
}

/// Chinese numerals (up to 99, or digit by digit) written as Arabic digits,
/// so that `三组` and `3组` read the same.
fn arabic_numerals(chars: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && (cn_digit(chars[i]).is_some() || chars[i] == '十') {
            i += 1;
        }
        if i > start {
            match cn_number(&chars[start..i]) {
                Some(n) => out.extend(n.to_string().chars()),
                None => out.extend_from_slice(&chars[start..i]),
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Administrative levels above the township that are dropped from the start
/// of a Chinese address (everyone in the county shares them).
const ADMIN_SUFFIXES: &[char] = &['省', '市', '县', '区', '州', '旗', '盟'];

/// Drops leading province, prefecture and county components such as
/// `安徽省临江市云溪县` so that `柳河镇张庄村` is compared with `柳河镇张庄村三组15号`.
fn strip_admin_prefix(mut chars: &[char]) -> &[char] {
    loop {
        let Some(pos) = chars
            .iter()
            .take(9)
            .position(|c| ADMIN_SUFFIXES.contains(c))
        else {
            return chars;
        };
        // `社区`, `小区`, `园区`, `街区` are below the township: stop there.
        if pos >= 1 && matches!(chars[pos - 1], '社' | '小' | '园' | '街' | '厂' | '景') {
            return chars;
        }
        if pos == 0 || chars.len() - (pos + 1) < 2 {
            return chars;
        }
        chars = &chars[pos + 1..];
    }
}

/// A normalised address and its comparison tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Address {
    /// Chinese: the characters below the county level, numerals as digits;
    /// other scripts: lower-case words separated by single spaces.
    pub text: Box<str>,
    /// Hashes of the character bigrams (Chinese) or words, sorted, unique.
    pub grams: Box<[u32]>,
}

impl Address {
    /// The area of an address for blocking: a postcode (the last token of 4
    /// to 6 digits) when there is one, else the village part.
    pub fn area(&self) -> &str {
        self.text
            .split(' ')
            .rev()
            .find(|w| (4..=6).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or_else(|| self.village())
    }

    /// The village part of a Chinese address: up to its first `村`, `社区`
    /// or `小区` (within the first twelve characters), else the first six
    /// characters; for other scripts, the first three words.
    pub fn village(&self) -> &str {
        let text: &str = &self.text;
        if !text.chars().any(is_han) {
            let end = text
                .match_indices(' ')
                .nth(2)
                .map_or(text.len(), |(i, _)| i);
            return text.get(..end).unwrap_or(text);
        }
        let mut prev = ' ';
        let mut cut = None;
        for (k, (i, c)) in text.char_indices().enumerate() {
            if k >= 12 {
                break;
            }
            if c == '村' || (c == '区' && matches!(prev, '社' | '小')) {
                cut = Some(i + c.len_utf8());
                break;
            }
            prev = c;
        }
        let end = cut.unwrap_or_else(|| text.char_indices().nth(6).map_or(text.len(), |(i, _)| i));
        text.get(..end).unwrap_or(text)
    }
}

fn hash32(bytes: &[u8]) -> u32 {
    u32::try_from(fnv64(bytes) >> 32).unwrap_or(0)
}

/// Normalised address: for Chinese text the characters below the county level
/// (Chinese numerals as digits, no punctuation or spaces) and their bigrams;
/// for other text the lower-case words.
pub(crate) fn address(s: &str) -> Option<Address> {
    let chars: Vec<char> = s
        .chars()
        .map(half_width)
        .map(standard_char)
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect();
    if chars.iter().any(|&c| is_han(c)) {
        let dense: Vec<char> = chars
            .into_iter()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let arabic = arabic_numerals(&dense);
        let body = strip_admin_prefix(&arabic);
        if body.len() < 2 {
            return None;
        }
        let mut grams: Vec<u32> = body
            .windows(2)
            .map(|w| {
                let mut b = [0u8; 8];
                b[..4].copy_from_slice(&u32::from(w[0]).to_le_bytes());
                b[4..].copy_from_slice(&u32::from(w[1]).to_le_bytes());
                hash32(&b)
            })
            .collect();
        grams.sort_unstable();
        grams.dedup();
        Some(Address {
            text: body.iter().collect::<String>().into_boxed_str(),
            grams: grams.into_boxed_slice(),
        })
    } else {
        let lower: String = chars.iter().collect::<String>().to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        if words.is_empty() {
            return None;
        }
        let text = words.join(" ");
        let tchars: Vec<char> = text.chars().collect();
        let mut grams: Vec<u32> = if tchars.len() < 2 {
            vec![hash32(text.as_bytes())]
        } else {
            tchars
                .windows(2)
                .map(|w| {
                    let mut b = [0u8; 8];
                    b[..4].copy_from_slice(&u32::from(w[0]).to_le_bytes());
                    b[4..].copy_from_slice(&u32::from(w[1]).to_le_bytes());
                    hash32(&b)
                })
                .collect()
        };
        grams.sort_unstable();
        grams.dedup();
        Some(Address {
            text: text.into_boxed_str(),
            grams: grams.into_boxed_slice(),
        })
    }
}

/// FNV-1a, 64 bits: a stable hash for blocking keys and tokens.
pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_variants() {
        assert_eq!(basic("　陳 秀英 "), "陈秀英");
        assert_eq!(basic("張　峯"), "张峰");
        assert_eq!(basic("ＡＢＣ１２３"), "ABC123");
        assert_eq!(standard_char('劉'), '刘');
        assert_eq!(standard_char('裏'), '里');
        assert_eq!(standard_char('王'), '王');
        assert!(is_han('王') && is_han('〇') && !is_han('a'));
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(phone("138 0013 8000").as_deref(), Some("13800138000"));
        assert_eq!(phone("+86 13800138000").as_deref(), Some("13800138000"));
        assert_eq!(
            phone("０５５１－６５１２３４５６").as_deref(),
            Some("055165123456")
        );
        assert_eq!(phone("00000000000"), None);
        assert_eq!(phone("123"), None);
    }

    #[test]
    fn chinese_numerals() {
        let s = |t: &str| {
            arabic_numerals(&t.chars().collect::<Vec<_>>())
                .iter()
                .collect::<String>()
        };
        assert_eq!(s("三组15号"), "3组15号");
        assert_eq!(s("十二组"), "12组");
        assert_eq!(s("二十三号"), "23号");
        assert_eq!(s("一〇五室"), "105室");
        assert_eq!(s("十组"), "10组");
    }

    #[test]
    fn addresses() {
        let text = |s: &str| address(s).map(|a| a.text.to_string()).unwrap_or_default();
        assert_eq!(
            text("安徽省临江市云溪县柳河镇张庄村三组15号"),
            "柳河镇张庄村3组15号"
        );
        assert_eq!(text("柳河镇张庄村"), "柳河镇张庄村");
        assert_eq!(text("幸福社区3栋"), "幸福社区3栋");
        assert_eq!(text("北京市朝阳区建国路88号"), "建国路88号");
        let latin = address("12  Main Street, Springfield").unwrap();
        assert_eq!(&*latin.text, "12 main street springfield");
        assert!(latin.grams.len() > 10);
        assert_eq!(
            address("8 stanley street miami 4223 nsw").unwrap().area(),
            "4223"
        );
        assert_eq!(address("柳河镇张庄村3组").unwrap().area(), "柳河镇张庄村");
        assert_eq!(
            address("柳河镇张庄村3组").unwrap().village(),
            "柳河镇张庄村"
        );
        assert_eq!(address("柳河镇张庄村").unwrap().village(), "柳河镇张庄村");
        assert_eq!(
            address("城关镇幸福小区3栋").unwrap().village(),
            "城关镇幸福小区"
        );
        assert_eq!(address("建国路88号").unwrap().village(), "建国路88号");
        assert_eq!(
            address("12 Main Street Springfield").unwrap().village(),
            "12 main street"
        );
        assert!(address("  ").is_none());
    }

    #[test]
    fn other_ids() {
        assert_eq!(other_id(" ab-12 34 ").as_deref(), Some("AB1234"));
        assert_eq!(other_id("0000"), None);
        assert_eq!(other_id("12"), None);
    }
}
