//! Municipality maps (市町村地図): choropleths drawn on the server as SVG from the embedded
//! boundaries of 国土数値情報（行政区域データ） (`data/municipality-topojson/`).
//!
//! A map is decoded, projected and turned into path strings once per prefecture and kept for
//! the life of the process, so drawing a page is string assembly. Every map carries the
//! credit line the source's terms require ([`CREDIT`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;

/// The credit the terms of 国土数値情報 require wherever a map is shown.
pub const CREDIT: &str = "出典：国土数値情報（行政区域データ）（国土交通省）を加工して作成";

/// The box the land is fitted into, in SVG user units.
const FIT_WIDTH: f64 = 600.0;
const FIT_HEIGHT: f64 = 600.0;
const MARGIN: f64 = 4.0;
/// Points nearer than this (in tenths of a unit) to the line through their neighbours are
/// dropped: the files are detailed enough for a map several times larger.
const SIMPLIFY_TENTHS: i64 = 8;
/// Half the size of the mark drawn for a municipality too small to draw (tenths of a unit).
const MARK_TENTHS: i32 = 20;
/// Islands farther from the main land than this many times its size go to an inset
/// (小笠原村 on the map of Tokyo).
const REMOTE_GAP: f64 = 1.0;
/// The largest share of the map's width and height an inset may take.
const INSET_SHARE: f64 = 0.3;

const LEGEND_GAP: f64 = 16.0;
const LEGEND_WIDTH: f64 = 170.0;
const LEGEND_ROW: f64 = 22.0;
const CREDIT_HEIGHT: f64 = 22.0;

/// ColorBrewer "Blues" (sequential, colour-blind safe), one scheme per number of classes.
const PALETTES: [&[&str]; 5] = [
    &["#6baed6"],
    &["#bdd7e7", "#3182bd"],
    &["#deebf7", "#9ecae1", "#3182bd"],
    &["#eff3ff", "#bdd7e7", "#6baed6", "#2171b5"],
    &["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"],
];
const MAX_CLASSES: usize = 5;
const TEXT_COLOUR: &str = "#1a1a1a";
/// Land that belongs to no municipality (所属未定地).
const UNASSIGNED_FILL: &str = "#d9d9d9";

/// The embedded TopoJSON of one prefecture (2-digit code), simplified to 1 %.
fn prefecture_topojson(code: &str) -> Option<&'static [u8]> {
    macro_rules! topojson {
        ($pp:literal) => {
            include_bytes!(concat!(
                "../../../data/municipality-topojson/N03-21_",
                $pp,
                "_210101.json"
            ))
        };
    }
    let json: &'static [u8] = match code {
        "01" => topojson!("01"),
        "02" => topojson!("02"),
        "03" => topojson!("03"),
        "04" => topojson!("04"),
        "05" => topojson!("05"),
        "06" => topojson!("06"),
        "07" => topojson!("07"),
        "08" => topojson!("08"),
        "09" => topojson!("09"),
        "10" => topojson!("10"),
        "11" => topojson!("11"),
        "12" => topojson!("12"),
        "13" => topojson!("13"),
        "14" => topojson!("14"),
        "15" => topojson!("15"),
        "16" => topojson!("16"),
        "17" => topojson!("17"),
        "18" => topojson!("18"),
        "19" => topojson!("19"),
        "20" => topojson!("20"),
        "21" => topojson!("21"),
        "22" => topojson!("22"),
        "23" => topojson!("23"),
        "24" => topojson!("24"),
        "25" => topojson!("25"),
        "26" => topojson!("26"),
        "27" => topojson!("27"),
        "28" => topojson!("28"),
        "29" => topojson!("29"),
        "30" => topojson!("30"),
        "31" => topojson!("31"),
        "32" => topojson!("32"),
        "33" => topojson!("33"),
        "34" => topojson!("34"),
        "35" => topojson!("35"),
        "36" => topojson!("36"),
        "37" => topojson!("37"),
        "38" => topojson!("38"),
        "39" => topojson!("39"),
        "40" => topojson!("40"),
        "41" => topojson!("41"),
        "42" => topojson!("42"),
        "43" => topojson!("43"),
        "44" => topojson!("44"),
        "45" => topojson!("45"),
        "46" => topojson!("46"),
        "47" => topojson!("47"),
        _ => return None,
    };
    Some(json)
}

/// The embedded national TopoJSON: designated cities merged into one shape, simplified to 0.1 %.
const JAPAN_TOPOJSON: &[u8] =
    include_bytes!("../../../data/municipality-topojson/N03-21_210101_designated_city_s0001.json");

static PREFECTURE_MAPS: [OnceLock<Option<MunicipalityMap>>; 47] = [const { OnceLock::new() }; 47];
static JAPAN_MAP: OnceLock<Option<MunicipalityMap>> = OnceLock::new();

/// The map of one prefecture's municipalities (wards of designated cities apart), by its
/// 2-digit prefecture code (都道府県コード); `None` for a code that is not a prefecture.
///
/// Decoded on first use and kept. The embedded files all decode (a test reads every one).
pub fn prefecture_map(prefecture_code: &str) -> Option<&'static MunicipalityMap> {
    let json = prefecture_topojson(prefecture_code)?;
    let index = prefecture_code.parse::<usize>().ok()?.checked_sub(1)?;
    PREFECTURE_MAPS
        .get(index)?
        .get_or_init(|| MunicipalityMap::from_topojson(json).ok())
        .as_ref()
}

/// The map of all municipalities of Japan, designated cities as one shape each.
pub fn japan_map() -> Option<&'static MunicipalityMap> {
    JAPAN_MAP
        .get_or_init(|| MunicipalityMap::from_topojson(JAPAN_TOPOJSON).ok())
        .as_ref()
}

/// Why a TopoJSON document could not be drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum MapError {
    /// Not TopoJSON of the expected shape.
    Json(String),
    /// A geometry refers to an arc the topology does not have.
    ArcIndex(i64),
    /// The arcs of a geometry do not match its type.
    Shape(String),
    /// No municipality with a shape and a code.
    Empty,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::Json(e) => write!(f, "not a usable TopoJSON document: {e}"),
            MapError::ArcIndex(i) => write!(f, "geometry refers to missing arc {i}"),
            MapError::Shape(kind) => write!(f, "arcs do not match the geometry type {kind}"),
            MapError::Empty => f.write_str("no municipality has a shape"),
        }
    }
}

impl std::error::Error for MapError {}

/// One municipality (市区町村) on a map, with its outline as SVG path data.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// The 5-digit code, e.g. `03201`.
    pub code: String,
    /// The name as people write it: `盛岡市`, and `仙台市青葉区` for a ward.
    pub name: String,
    /// The prefecture's name, e.g. `岩手県`.
    pub prefecture: String,
    /// For a ward of a designated city (政令指定都市の区): the city's code and name.
    pub city: Option<(String, String)>,
    /// SVG path data in the map's user units; a small diamond where the shape is too small to
    /// draw at this scale.
    pub d: String,
}

/// What lies on either side of a shared piece of boundary.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sides {
    /// The sea, another prefecture or land of no municipality: always an outline.
    Outer,
    /// Two municipalities, by their index in `regions`.
    Between(usize, usize),
}

#[derive(Debug, Clone, PartialEq)]
struct Border {
    d: String,
    sides: Sides,
}

/// A rectangle in the map's user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// The municipalities of a prefecture (or of Japan), projected and fitted to a viewBox of
/// `0 0 width height`.
#[derive(Debug, Clone, PartialEq)]
pub struct MunicipalityMap {
    width: f64,
    height: f64,
    regions: Vec<Region>,
    by_code: HashMap<String, usize>,
    /// 所属未定地: land of no municipality, drawn plain.
    unassigned: String,
    borders: Vec<Border>,
    /// The inset frame of islands too far to draw in place (小笠原村 on the map of Tokyo).
    inset: Option<Frame>,
    /// Whether the map spans several prefectures (then names carry their prefecture).
    national: bool,
}

// --- TopoJSON as stored -------------------------------------------------------------------

#[derive(Deserialize)]
struct Topology {
    arcs: Vec<Vec<[f64; 2]>>,
    transform: Option<Transform>,
    objects: BTreeMap<String, Collection>,
}

#[derive(Deserialize)]
struct Transform {
    scale: [f64; 2],
    translate: [f64; 2],
}

#[derive(Deserialize)]
struct Collection {
    #[serde(default)]
    geometries: Vec<Geometry>,
}

#[derive(Deserialize)]
struct Geometry {
    #[serde(rename = "type")]
    kind: Option<String>,
    arcs: Option<ArcRefs>,
    #[serde(default)]
    properties: Properties,
}

/// Arc references: rings of a Polygon, or polygons of a MultiPolygon.
#[derive(Deserialize)]
#[serde(untagged)]
enum ArcRefs {
    Polygons(Vec<Vec<Vec<i64>>>),
    Rings(Vec<Vec<i64>>),
}

#[derive(Deserialize, Default)]
struct Properties {
    #[serde(rename = "N03_001")]
    prefecture: Option<String>,
    /// A designated city, a county (郡) or a subprefecture (支庁).
    #[serde(rename = "N03_003")]
    city_or_county: Option<String>,
    #[serde(rename = "N03_004")]
    municipality: Option<String>,
    #[serde(rename = "N03_007")]
    code: Option<String>,
}

// --- Decoding ----------------------------------------------------------------------------

/// Whose shape a polygon is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Owner {
    Region(usize),
    Unassigned,
}

/// A polygon: its exterior ring first, then its holes; each ring a list of arc references.
struct Polygon {
    owner: Owner,
    rings: Vec<Vec<i64>>,
}

#[derive(Debug, Clone, Copy)]
struct Extent {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
}

impl Extent {
    const EMPTY: Extent = Extent {
        min_x: f64::INFINITY,
        min_y: f64::INFINITY,
        max_x: f64::NEG_INFINITY,
        max_y: f64::NEG_INFINITY,
    };

    fn add(&mut self, (x, y): (f64, f64)) {
        self.min_x = self.min_x.min(x);
        self.min_y = self.min_y.min(y);
        self.max_x = self.max_x.max(x);
        self.max_y = self.max_y.max(y);
    }

    fn union(mut self, other: Extent) -> Extent {
        self.add((other.min_x, other.min_y));
        self.add((other.max_x, other.max_y));
        self
    }

    fn is_empty(&self) -> bool {
        self.min_x > self.max_x
    }

    fn width(&self) -> f64 {
        self.max_x - self.min_x
    }

    fn height(&self) -> f64 {
        self.max_y - self.min_y
    }

    /// How far apart two extents are along the axis where they are farthest apart.
    fn gap(&self, other: &Extent) -> f64 {
        let dx = (self.min_x - other.max_x).max(other.min_x - self.max_x);
        let dy = (self.min_y - other.max_y).max(other.min_y - self.max_y);
        dx.max(dy).max(0.0)
    }
}

/// Fits an extent of the plane into a frame, keeping its proportions.
#[derive(Debug, Clone, Copy)]
struct Fit {
    scale: f64,
    from: Extent,
    to_x: f64,
    to_y: f64,
}

impl Fit {
    fn new(from: Extent, max_width: f64, max_height: f64) -> Fit {
        let sx = if from.width() > 0.0 {
            max_width / from.width()
        } else {
            f64::INFINITY
        };
        let sy = if from.height() > 0.0 {
            max_height / from.height()
        } else {
            f64::INFINITY
        };
        let scale = sx.min(sy);
        Fit {
            scale: if scale.is_finite() { scale } else { 1.0 },
            from,
            to_x: 0.0,
            to_y: 0.0,
        }
    }

    fn width(&self) -> f64 {
        self.from.width() * self.scale
    }

    fn height(&self) -> f64 {
        self.from.height() * self.scale
    }

    /// The point in tenths of a user unit, which is the precision the paths are written in.
    fn tenths(&self, (x, y): (f64, f64)) -> (i32, i32) {
        let px = self.to_x + (x - self.from.min_x) * self.scale;
        let py = self.to_y + (y - self.from.min_y) * self.scale;
        ((px * 10.0).round() as i32, (py * 10.0).round() as i32)
    }
}

/// An arc reference as (arc index, reversed).
fn arc_ref(i: i64, arc_count: usize) -> Result<(usize, bool), MapError> {
    // A negative reference means arc !i (that is −i−1) walked backwards.
    let (index, reversed) = if i >= 0 { (i, false) } else { (!i, true) };
    usize::try_from(index)
        .ok()
        .filter(|&index| index < arc_count)
        .map(|index| (index, reversed))
        .ok_or(MapError::ArcIndex(i))
}

/// The points of a ring, joined from its arcs (each arc starts where the previous one ended).
fn ring_points<P: Copy + PartialEq>(arcs: &[Vec<P>], ring: &[i64]) -> Vec<P> {
    let mut points: Vec<P> = Vec::new();
    for &i in ring {
        let Ok((index, reversed)) = arc_ref(i, arcs.len()) else {
            continue;
        };
        let arc = &arcs[index];
        let walk: Box<dyn Iterator<Item = &P>> = if reversed {
            Box::new(arc.iter().rev())
        } else {
            Box::new(arc.iter())
        };
        for &p in walk {
            if points.last() != Some(&p) {
                points.push(p);
            }
        }
    }
    points
}

/// Douglas–Peucker on one arc. The ends stay, so neighbours still share their boundary
/// exactly.
fn simplify(points: &[(i32, i32)], tolerance: i64) -> Vec<(i32, i32)> {
    let mut points = points.to_vec();
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let mut keep = vec![false; points.len()];
    let last = points.len() - 1;
    keep[0] = true;
    keep[last] = true;
    let mut spans = vec![(0, last)];
    while let Some((from, to)) = spans.pop() {
        let (ax, ay) = (i64::from(points[from].0), i64::from(points[from].1));
        let (bx, by) = (i64::from(points[to].0), i64::from(points[to].1));
        let (dx, dy) = (bx - ax, by - ay);
        let length_sq = dx * dx + dy * dy;
        let mut farthest = (0, 0);
        for (i, &(x, y)) in points.iter().enumerate().take(to).skip(from + 1) {
            let (px, py) = (i64::from(x) - ax, i64::from(y) - ay);
            // Squared distance to the chord, scaled by its squared length (to stay in integers);
            // a closed arc has no chord and measures from its end.
            let distance = if length_sq == 0 {
                px * px + py * py
            } else {
                let cross = px * dy - py * dx;
                cross * cross / length_sq
            };
            if distance > farthest.0 {
                farthest = (distance, i);
            }
        }
        if farthest.0 > tolerance * tolerance {
            keep[farthest.1] = true;
            spans.push((from, farthest.1));
            spans.push((farthest.1, to));
        }
    }
    points
        .into_iter()
        .zip(keep)
        .filter_map(|(p, kept)| kept.then_some(p))
        .collect()
}

fn ring_area(points: &[(f64, f64)]) -> f64 {
    let n = points.len();
    let twice: f64 = (0..n)
        .map(|i| {
            let (x0, y0) = points[i];
            let (x1, y1) = points[(i + 1) % n];
            x0 * y1 - x1 * y0
        })
        .sum();
    twice.abs() / 2.0
}

/// Writes a number of tenths as SVG does not need more: `12`, `1.5`, `.5`, `-.5`.
fn push_tenths(out: &mut String, t: i32) {
    let negative = t < 0;
    let t = t.unsigned_abs();
    let (whole, tenth) = (t / 10, t % 10);
    if negative {
        out.push('-');
    } else if out.ends_with(|c: char| c.is_ascii_digit() || c == '.') {
        out.push(' ');
    }
    if whole > 0 || tenth == 0 {
        out.push_str(&whole.to_string());
    }
    if tenth > 0 {
        out.push('.');
        out.push(char::from(b'0' + tenth as u8));
    }
}

/// Path data for a run of points: absolute move, then relative lines (shorter numbers).
fn push_polyline(out: &mut String, points: &[(i32, i32)], close: bool) {
    let Some(&(x0, y0)) = points.first() else {
        return;
    };
    out.push('M');
    push_tenths(out, x0);
    push_tenths(out, y0);
    if points.len() > 1 {
        out.push('l');
    }
    for pair in points.windows(2) {
        push_tenths(out, pair[1].0 - pair[0].0);
        push_tenths(out, pair[1].1 - pair[0].1);
    }
    if close {
        out.push('z');
    }
}

impl MunicipalityMap {
    /// Decodes a TopoJSON topology of municipalities (properties `N03_001`, `N03_003`,
    /// `N03_004`, `N03_007`), projects it (equirectangular, longitudes shrunk by the cosine
    /// of the middle latitude) and fits it into a 600 × 600 box.
    pub fn from_topojson(json: &[u8]) -> Result<MunicipalityMap, MapError> {
        let topology: Topology =
            serde_json::from_slice(json).map_err(|e| MapError::Json(e.to_string()))?;

        let lon_lat: Vec<Vec<(f64, f64)>> = topology
            .arcs
            .iter()
            .map(|arc| match &topology.transform {
                // Quantized: positions are deltas from the previous one, then scaled.
                Some(t) => {
                    let (mut x, mut y) = (0.0, 0.0);
                    arc.iter()
                        .map(|p| {
                            x += p[0];
                            y += p[1];
                            (
                                x * t.scale[0] + t.translate[0],
                                y * t.scale[1] + t.translate[1],
                            )
                        })
                        .collect()
                }
                None => arc.iter().map(|p| (p[0], p[1])).collect(),
            })
            .collect();

        let (regions, polygons) = collect_regions(&topology, lon_lat.len())?;
        if regions.is_empty() {
            return Err(MapError::Empty);
        }

        // Equirectangular: y grows downwards, x shrinks with the cosine of the latitude.
        let mut degrees = Extent::EMPTY;
        for &(lon, lat) in lon_lat.iter().flatten() {
            degrees.add((lon, lat));
        }
        let shrink = ((degrees.min_y + degrees.max_y) / 2.0).to_radians().cos();
        let plane: Vec<Vec<(f64, f64)>> = lon_lat
            .iter()
            .map(|arc| arc.iter().map(|&(lon, lat)| (lon * shrink, -lat)).collect())
            .collect();

        let layout = Layout::new(&plane, &polygons)?;
        let tenths: Vec<Vec<(i32, i32)>> = plane
            .iter()
            .zip(&layout.arc_in_inset)
            .map(|(arc, &inset)| {
                let fit = if inset {
                    layout.inset_fit.unwrap_or(layout.main_fit)
                } else {
                    layout.main_fit
                };
                let points: Vec<(i32, i32)> = arc.iter().map(|&p| fit.tenths(p)).collect();
                simplify(&points, SIMPLIFY_TENTHS)
            })
            .collect();

        let mut regions = regions;
        let mut unassigned = String::new();
        // Where each municipality is, should all its polygons vanish at this scale: the
        // middle of its widest exterior ring, and that width.
        let mut whereabouts: Vec<Option<((i32, i32), i32)>> = vec![None; regions.len()];
        for polygon in &polygons {
            let out = match polygon.owner {
                Owner::Region(r) => &mut regions[r].d,
                Owner::Unassigned => &mut unassigned,
            };
            for (k, ring) in polygon.rings.iter().enumerate() {
                let mut points = ring_points(&tenths, ring);
                if k == 0
                    && let Owner::Region(r) = polygon.owner
                {
                    let xs = points.iter().map(|p| p.0);
                    let ys = points.iter().map(|p| p.1);
                    if let (Some(x0), Some(x1), Some(y0), Some(y1)) =
                        (xs.clone().min(), xs.max(), ys.clone().min(), ys.max())
                    {
                        let size = (x1 - x0).max(y1 - y0);
                        if whereabouts[r].is_none_or(|(_, widest)| size > widest) {
                            whereabouts[r] = Some((((x0 + x1) / 2, (y0 + y1) / 2), size));
                        }
                    }
                }
                if points.len() > 1 && points.first() == points.last() {
                    points.pop();
                }
                if points.len() < 3 {
                    if k == 0 {
                        // The polygon vanishes at this scale, and its holes with it.
                        break;
                    }
                    continue;
                }
                push_polyline(out, &points, true);
            }
        }
        // A municipality too small to draw still gets a mark to colour and point at.
        let (right, bottom) = ((layout.width * 10.0) as i32, (layout.height * 10.0) as i32);
        for (region, place) in regions.iter_mut().zip(whereabouts) {
            if let (true, Some(((x, y), _))) = (region.d.is_empty(), place) {
                let r = MARK_TENTHS;
                let (x, y) = (x.clamp(r, right - r), y.clamp(r, bottom - r));
                let diamond = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)];
                push_polyline(&mut region.d, &diamond, true);
            }
        }

        let borders = shared_borders(&tenths, &polygons);
        let by_code = regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.code.clone(), i))
            .collect();
        let national = regions.iter().any(|r| {
            regions
                .first()
                .is_some_and(|f| f.prefecture != r.prefecture)
        });
        Ok(MunicipalityMap {
            width: layout.width,
            height: layout.height,
            regions,
            by_code,
            unassigned,
            borders,
            inset: layout.inset_frame,
            national,
        })
    }

    /// The width of the viewBox (the map itself, without legend).
    pub fn width(&self) -> f64 {
        self.width
    }

    /// The height of the viewBox (the map itself, without legend).
    pub fn height(&self) -> f64 {
        self.height
    }

    /// The municipalities, in the order of the source file (by code).
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The municipality with this 5-digit code.
    pub fn region(&self, code5: &str) -> Option<&Region> {
        self.by_code.get(code5).map(|&i| &self.regions[i])
    }

    /// Path data of land that belongs to no municipality (所属未定地); usually empty.
    pub fn unassigned(&self) -> &str {
        &self.unassigned
    }

    /// The frame of the inset holding remote islands, if the map needed one.
    pub fn inset(&self) -> Option<Frame> {
        self.inset
    }

    /// Whether the map spans several prefectures (the national map).
    pub fn is_national(&self) -> bool {
        self.national
    }

    /// Path data of the boundaries between municipalities of different groups (for example
    /// areas, 圏域), plus the outer boundary. `group_of` gets a 5-digit code; two neighbours
    /// both in no group (`None`) count as the same group.
    pub fn boundaries_between<'s, G: PartialEq>(
        &'s self,
        group_of: impl Fn(&'s str) -> Option<G>,
    ) -> String {
        let groups: Vec<Option<G>> = self.regions.iter().map(|r| group_of(&r.code)).collect();
        let mut d = String::new();
        for border in &self.borders {
            let draw = match border.sides {
                Sides::Outer => true,
                Sides::Between(a, b) => groups.get(a) != groups.get(b),
            };
            if draw {
                d.push_str(&border.d);
            }
        }
        d
    }
}

/// The municipalities of a topology and the polygons of each, in file order.
fn collect_regions(
    topology: &Topology,
    arc_count: usize,
) -> Result<(Vec<Region>, Vec<Polygon>), MapError> {
    let mut regions: Vec<Region> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    let mut polygons: Vec<Polygon> = Vec::new();
    for geometry in topology.objects.values().flat_map(|c| &c.geometries) {
        let shapes: Vec<Vec<Vec<i64>>> = match (geometry.kind.as_deref(), &geometry.arcs) {
            (Some("Polygon"), Some(ArcRefs::Rings(rings))) => vec![rings.clone()],
            (Some("MultiPolygon"), Some(ArcRefs::Polygons(polygons))) => polygons.clone(),
            // An empty list reads as polygons whatever the type says.
            (Some("Polygon"), Some(ArcRefs::Polygons(polygons))) if polygons.is_empty() => {
                Vec::new()
            }
            (Some(kind @ ("Polygon" | "MultiPolygon")), _) => {
                return Err(MapError::Shape(kind.to_owned()));
            }
            // Islands lost to simplification come without a type (or, above, without arcs).
            _ => continue,
        };
        if shapes.is_empty() {
            continue;
        }
        for &i in shapes.iter().flatten().flatten() {
            arc_ref(i, arc_count)?;
        }
        let p = &geometry.properties;
        let owner = match p.code.as_deref().filter(|c| !c.is_empty()) {
            Some(code) => {
                let index = *index_of.entry(code.to_owned()).or_insert_with(|| {
                    regions.push(Region {
                        code: code.to_owned(),
                        name: region_name(p),
                        prefecture: p.prefecture.clone().unwrap_or_default(),
                        city: None,
                        d: String::new(),
                    });
                    regions.len() - 1
                });
                Owner::Region(index)
            }
            None => Owner::Unassigned,
        };
        polygons.extend(shapes.into_iter().map(|rings| Polygon { owner, rings }));
    }
    link_wards_to_cities(topology, &mut regions);
    Ok((regions, polygons))
}

/// `盛岡市`; a ward with its city (`仙台市青葉区`); a merged designated city (`仙台市`).
fn region_name(p: &Properties) -> String {
    let city = p.city_or_county.as_deref().filter(|c| c.ends_with('市'));
    match (city, p.municipality.as_deref()) {
        (Some(city), Some(ward)) => format!("{city}{ward}"),
        (_, Some(name)) => name.to_owned(),
        (_, None) => p.city_or_county.clone().unwrap_or_default(),
    }
}

/// Gives each ward of a designated city its city's code and name.
///
/// The wards of a city are numbered from just above the city's code, which ends in 0: the
/// smallest ward code with its last digit set to 0 is the city's (札幌市 01100: 01101–01110).
fn link_wards_to_cities(topology: &Topology, regions: &mut [Region]) {
    let mut wards: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for geometry in topology.objects.values().flat_map(|c| &c.geometries) {
        let p = &geometry.properties;
        let (Some(city), Some(ward), Some(code)) = (
            p.city_or_county.as_deref().filter(|c| c.ends_with('市')),
            p.municipality.as_deref(),
            p.code.as_deref(),
        ) else {
            continue;
        };
        if ward.ends_with('区') {
            let prefecture = p.prefecture.as_deref().unwrap_or_default();
            wards.entry((prefecture, city)).or_default().push(code);
        }
    }
    let index_of: HashMap<&str, usize> = regions
        .iter()
        .enumerate()
        .map(|(i, r)| (r.code.as_str(), i))
        .collect();
    let mut links: Vec<(usize, String, String)> = Vec::new();
    for ((_, city), codes) in &wards {
        let Some(stem) = codes.iter().min().and_then(|c| c.get(..4)) else {
            continue;
        };
        let city_code = format!("{stem}0");
        for code in codes {
            if let Some(&i) = index_of.get(code) {
                links.push((i, city_code.clone(), (*city).to_owned()));
            }
        }
    }
    for (i, city_code, city) in links {
        regions[i].city = Some((city_code, city));
    }
}

/// Where the land goes in the viewBox: the main land fitted to the box, and islands far away
/// (小笠原村 seen from Tokyo) fitted into an inset in the emptiest corner.
struct Layout {
    width: f64,
    height: f64,
    main_fit: Fit,
    inset_fit: Option<Fit>,
    inset_frame: Option<Frame>,
    arc_in_inset: Vec<bool>,
}

impl Layout {
    fn new(plane: &[Vec<(f64, f64)>], polygons: &[Polygon]) -> Result<Layout, MapError> {
        // Exterior rings: their extent and area.
        let outlines: Vec<(Extent, f64)> = polygons
            .iter()
            .map(|p| {
                let points = p
                    .rings
                    .first()
                    .map(|ring| ring_points(plane, ring))
                    .unwrap_or_default();
                let mut extent = Extent::EMPTY;
                for &q in &points {
                    extent.add(q);
                }
                (extent, ring_area(&points))
            })
            .collect();

        // The main land grows from the largest municipality polygon by taking in every one
        // nearer to it than its own size; what is left is too far to draw in place. Land of no
        // municipality (鳥島 and the rocks south of the Izu islands) would otherwise bridge the
        // gap to 小笠原村, so it follows: in the inset if outside the main land and there is one.
        let is_region = |i: usize| matches!(polygons[i].owner, Owner::Region(_));
        let largest = (0..outlines.len())
            .filter(|&i| is_region(i) && !outlines[i].0.is_empty())
            .max_by(|&a, &b| outlines[a].1.total_cmp(&outlines[b].1))
            .ok_or(MapError::Empty)?;
        let mut remote: Vec<bool> = (0..outlines.len())
            .map(|i| is_region(i) && !outlines[i].0.is_empty())
            .collect();
        remote[largest] = false;
        let mut core = outlines[largest].0;
        loop {
            let before = core;
            for (i, (extent, _)) in outlines.iter().enumerate() {
                let reach = core.width().max(core.height()) * REMOTE_GAP;
                if remote[i] && extent.gap(&core) <= reach {
                    remote[i] = false;
                    core = core.union(*extent);
                }
            }
            if before.width() == core.width() && before.height() == core.height() {
                break;
            }
        }
        if remote.iter().any(|&r| r) {
            for (i, (extent, _)) in outlines.iter().enumerate() {
                if !is_region(i) && !extent.is_empty() && extent.gap(&core) > 0.0 {
                    remote[i] = true;
                }
            }
        }

        let mut main = Extent::EMPTY;
        let mut far = Extent::EMPTY;
        for ((extent, _), &is_remote) in outlines.iter().zip(&remote) {
            if extent.is_empty() {
                continue;
            }
            if is_remote {
                far = far.union(*extent);
            } else {
                main = main.union(*extent);
            }
        }
        let mut arc_in_inset = vec![false; plane.len()];
        for (polygon, _) in polygons.iter().zip(&remote).filter(|(_, r)| **r) {
            for &i in polygon.rings.iter().flatten() {
                if let Ok((index, _)) = arc_ref(i, plane.len()) {
                    arc_in_inset[index] = true;
                }
            }
        }

        let mut main_fit = Fit::new(main, FIT_WIDTH - 2.0 * MARGIN, FIT_HEIGHT - 2.0 * MARGIN);
        main_fit.to_x = MARGIN;
        main_fit.to_y = MARGIN;
        let width = (main_fit.width() + 2.0 * MARGIN).ceil();
        let height = (main_fit.height() + 2.0 * MARGIN).ceil();
        if far.is_empty() {
            return Ok(Layout {
                width,
                height,
                main_fit,
                inset_fit: None,
                inset_frame: None,
                arc_in_inset,
            });
        }

        let mut inset_fit = Fit::new(
            far,
            width * INSET_SHARE - 2.0 * MARGIN,
            height * INSET_SHARE - 2.0 * MARGIN,
        );
        let frame_width = inset_fit.width() + 2.0 * MARGIN;
        let frame_height = inset_fit.height() + 2.0 * MARGIN;
        // The corner that hides the fewest points of the main land.
        let corners = [
            (width - frame_width - 1.0, height - frame_height - 1.0),
            (1.0, height - frame_height - 1.0),
            (width - frame_width - 1.0, 1.0),
            (1.0, 1.0),
        ];
        let main_points: Vec<(f64, f64)> = plane
            .iter()
            .zip(&arc_in_inset)
            .filter(|(_, inset)| !**inset)
            .flat_map(|(arc, _)| arc.iter())
            .map(|&p| {
                let (x, y) = main_fit.tenths(p);
                (f64::from(x) / 10.0, f64::from(y) / 10.0)
            })
            .collect();
        let hidden = |(fx, fy): (f64, f64)| {
            main_points
                .iter()
                .filter(|&&(x, y)| {
                    x >= fx && x <= fx + frame_width && y >= fy && y <= fy + frame_height
                })
                .count()
        };
        let (fx, fy) = corners
            .into_iter()
            .min_by_key(|&corner| hidden(corner))
            .unwrap_or(corners[0]);
        inset_fit.to_x = fx + MARGIN;
        inset_fit.to_y = fy + MARGIN;
        Ok(Layout {
            width,
            height,
            main_fit,
            inset_fit: Some(inset_fit),
            inset_frame: Some(Frame {
                x: fx,
                y: fy,
                width: (frame_width * 10.0).round() / 10.0,
                height: (frame_height * 10.0).round() / 10.0,
            }),
            arc_in_inset,
        })
    }
}

/// Every arc with what lies on its two sides, as path data.
fn shared_borders(tenths: &[Vec<(i32, i32)>], polygons: &[Polygon]) -> Vec<Border> {
    let mut owners: Vec<Vec<Owner>> = vec![Vec::new(); tenths.len()];
    for polygon in polygons {
        for &i in polygon.rings.iter().flatten() {
            if let Ok((index, _)) = arc_ref(i, tenths.len()) {
                owners[index].push(polygon.owner);
            }
        }
    }
    let mut borders = Vec::new();
    for (arc, owners) in tenths.iter().zip(&owners) {
        let sides = match owners.as_slice() {
            [] => continue,
            [Owner::Region(a), Owner::Region(b)] if a == b => continue,
            [Owner::Region(a), Owner::Region(b)] => Sides::Between(*a, *b),
            _ => Sides::Outer,
        };
        let mut points: Vec<(i32, i32)> = Vec::with_capacity(arc.len());
        for &p in arc {
            if points.last() != Some(&p) {
                points.push(p);
            }
        }
        if points.len() < 2 {
            continue;
        }
        let mut d = String::new();
        push_polyline(&mut d, &points, false);
        borders.push(Border { d, sides });
    }
    borders
}

// --- Choropleth --------------------------------------------------------------------------

/// A choropleth (階級区分図): municipalities coloured by a value in up to five classes.
pub struct Choropleth<'a> {
    /// Unique on the page: prefixes the ids of the title, description and fill pattern.
    pub id: &'a str,
    /// The SVG's `<title>`, read out by screen readers; e.g. 「市町村別の相談件数（令和6年度）」.
    pub title: &'a str,
    /// The unit after each value, e.g. 「件」; may be empty.
    pub unit: &'a str,
    /// Values by 5-digit municipality code; `None` (or no entry) is drawn as 未報告. A ward
    /// without an entry of its own takes its designated city's; a municipality without either
    /// takes an entry under its 2-digit prefecture code (so the national map can be coloured
    /// by prefecture). Values that are not finite count as 未報告.
    pub values: &'a [(String, Option<f64>)],
    /// The area (圏域) of a municipality by 5-digit code: its boundaries are drawn thicker and
    /// its name follows the municipality's in the tooltip. Without it, the national map draws
    /// prefecture boundaries thicker.
    pub area_of: Option<AreaOf<'a>>,
}

/// The name of the area (圏域) a municipality belongs to, by its 5-digit code.
pub type AreaOf<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One class of the legend: the values of its members run from `min` to `max`.
#[derive(Debug, Clone, PartialEq)]
struct Class {
    min: f64,
    max: f64,
    count: usize,
    colour: &'static str,
}

/// The lower bounds of the classes: one per value when there are at most five distinct values,
/// else quantiles (each class holds about as many municipalities as the others; equal values
/// stay in one class, so ties make some classes larger).
fn breaks(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut distinct = sorted.clone();
    distinct.dedup();
    if distinct.len() <= MAX_CLASSES {
        return distinct;
    }
    let n = sorted.len();
    let mut bounds = vec![sorted[0]];
    let mut start = 0;
    for classes_left in (2..=MAX_CLASSES).rev() {
        let mut end = start + (n - start).div_ceil(classes_left);
        while end < n && sorted[end] == sorted[end - 1] {
            end += 1;
        }
        let Some(&next) = sorted.get(end) else {
            break;
        };
        bounds.push(next);
        start = end;
    }
    bounds
}

fn class_index(bounds: &[f64], v: f64) -> usize {
    bounds.partition_point(|&b| b <= v).saturating_sub(1)
}

/// `1,234`, `0.35`, `12.5`: up to two decimals, with thousands separators.
fn format_value(v: f64) -> String {
    let rounded = (v * 100.0).round() / 100.0;
    let text = format!("{:.2}", rounded.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    let mut out = String::new();
    if rounded < 0.0 {
        out.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// Escapes text for XML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn number(v: f64) -> String {
    format_value(v).replace(',', "")
}

/// Draws a choropleth of `map` as one SVG element: municipalities filled by class, 未報告
/// hatched, area (or prefecture) boundaries thicker, a legend on the right and the source
/// credit below. Presentation attributes only (no `style`), so it passes a strict CSP.
pub fn render(map: &MunicipalityMap, c: &Choropleth<'_>) -> String {
    let given: HashMap<&str, Option<f64>> = c
        .values
        .iter()
        .map(|(code, v)| (code.as_str(), v.filter(|v| v.is_finite())))
        .collect();

    // Each municipality's value and the name it belongs to (itself, its city or prefecture).
    let shown: Vec<(Option<f64>, String)> = map
        .regions
        .iter()
        .map(|r| {
            let own_name = if map.national {
                format!("{}{}", r.prefecture, r.name)
            } else {
                r.name.clone()
            };
            if let Some(v) = given.get(r.code.as_str()) {
                return (*v, own_name);
            }
            if let Some((city_code, city_name)) = &r.city
                && let Some(v) = given.get(city_code.as_str())
            {
                return (*v, city_name.clone());
            }
            match r.code.get(..2).and_then(|p| given.get(p)) {
                Some(v) => (*v, r.prefecture.clone()),
                None => (None, own_name),
            }
        })
        .collect();

    let present: Vec<f64> = shown.iter().filter_map(|(v, _)| *v).collect();
    let bounds = breaks(&present);
    let palette = PALETTES
        .get(bounds.len().saturating_sub(1))
        .copied()
        .unwrap_or(&[]);
    let mut classes: Vec<Class> = bounds
        .iter()
        .zip(palette)
        .map(|(&b, &colour)| Class {
            min: b,
            max: b,
            count: 0,
            colour,
        })
        .collect();
    for &v in &present {
        if let Some(class) = classes.get_mut(class_index(&bounds, v)) {
            class.max = class.max.max(v);
            class.count += 1;
        }
    }
    let missing = shown.iter().filter(|(v, _)| v.is_none()).count();

    let id = escape(c.id);
    let no_data = format!("url(#{id}-nodata)");
    let unit = |v: f64| {
        if c.unit.is_empty() {
            format_value(v)
        } else {
            format!("{} {}", format_value(v), c.unit)
        }
    };
    let label = |class: &Class| {
        if class.min == class.max {
            format_value(class.min)
        } else {
            format!("{}〜{}", format_value(class.min), format_value(class.max))
        }
    };

    let legend_rows = classes.len() + 1;
    let legend_height = LEGEND_ROW * (legend_rows as f64 + 1.0) + 8.0;
    let width = map.width + LEGEND_GAP + LEGEND_WIDTH;
    let height = map.height.max(legend_height) + CREDIT_HEIGHT;
    let (thin, casing, edge) = if map.national {
        (".2", "1.6", ".6")
    } else {
        (".5", "3", "1.2")
    };

    let mut summary: Vec<String> = classes
        .iter()
        .map(|class| {
            let range = label(class);
            let range = if c.unit.is_empty() {
                range
            } else {
                format!("{range} {}", c.unit)
            };
            format!("{range}：{}", class.count)
        })
        .collect();
    summary.push(format!("未報告：{missing}"));
    let description = format!(
        "{}。市区町村数 {}。{}。{CREDIT}",
        c.title,
        map.regions.len(),
        summary.join("、")
    );

    let mut svg =
        String::with_capacity(map.regions.iter().map(|r| r.d.len() + 96).sum::<usize>() + 4096);
    svg.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"map\" viewBox=\"0 0 {} {}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        number(width),
        number(height),
        escape(c.title),
        escape(&description),
    ));

    // Boundaries of areas (or prefectures) and the coast: thick.
    let edges = match (c.area_of, map.national) {
        (Some(area_of), _) => map.boundaries_between(|code| {
            area_of(code).or_else(|| {
                // A ward in no area itself belongs to its city's.
                map.region(code)
                    .and_then(|r| r.city.as_ref())
                    .and_then(|(city_code, _)| area_of(city_code))
            })
        }),
        (None, true) => map.boundaries_between(|code| code.get(..2)),
        (None, false) => map.boundaries_between(|_| Some(())),
    };
    svg.push_str(&format!(
        "<defs><pattern id=\"{id}-nodata\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f0f0f0\"/><path d=\"M0 0v6\" stroke=\"#737373\" stroke-width=\"1.5\"/></pattern><path id=\"{id}-edge\" d=\"{edges}\"/></defs>"
    ));

    svg.push_str(&format!(
        "<g stroke=\"#fff\" stroke-width=\"{thin}\" stroke-linejoin=\"round\" fill-rule=\"evenodd\">"
    ));
    for (region, (value, name)) in map.regions.iter().zip(&shown) {
        if region.d.is_empty() {
            continue;
        }
        let fill = match value {
            Some(v) => classes
                .get(class_index(&bounds, *v))
                .map_or(no_data.as_str(), |class| class.colour),
            None => no_data.as_str(),
        };
        let area = c
            .area_of
            .and_then(|area_of| area_of(&region.code))
            .map(|a| format!("（{a}）"))
            .unwrap_or_default();
        let text = match value {
            Some(v) => format!("{name}{area}: {}", unit(*v)),
            None => format!("{name}{area}: 未報告"),
        };
        svg.push_str(&format!(
            "<path fill=\"{fill}\" d=\"{}\"><title>{}</title></path>",
            region.d,
            escape(&text)
        ));
    }
    if !map.unassigned.is_empty() {
        svg.push_str(&format!(
            "<path fill=\"{UNASSIGNED_FILL}\" d=\"{}\"><title>所属未定地</title></path>",
            map.unassigned
        ));
    }
    svg.push_str("</g>");

    // A white casing under a dark line: one of the two stands out against any fill.
    svg.push_str(&format!(
        "<g fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\"><use href=\"#{id}-edge\" stroke=\"#fff\" stroke-width=\"{casing}\"/><use href=\"#{id}-edge\" stroke=\"{TEXT_COLOUR}\" stroke-width=\"{edge}\"/></g>"
    ));
    if let Some(frame) = map.inset {
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#737373\" stroke-width=\".8\"/>",
            number(frame.x),
            number(frame.y),
            number(frame.width),
            number(frame.height)
        ));
    }

    // Legend (凡例).
    let x = map.width + LEGEND_GAP;
    let heading = if c.unit.is_empty() {
        "凡例".to_owned()
    } else {
        format!("凡例（{}）", escape(c.unit))
    };
    svg.push_str(&format!(
        "<g font-size=\"13\" fill=\"{TEXT_COLOUR}\"><text x=\"{}\" y=\"18\" font-weight=\"bold\">{heading}</text>",
        number(x)
    ));
    let swatches = classes
        .iter()
        .map(|class| (class.colour, label(class)))
        .chain(std::iter::once((no_data.as_str(), "未報告".to_owned())));
    for (row, (fill, text)) in swatches.enumerate() {
        let y = LEGEND_ROW * (row as f64 + 1.0) + 8.0;
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"20\" height=\"14\" fill=\"{fill}\" stroke=\"#737373\" stroke-width=\".5\"/><text x=\"{}\" y=\"{}\">{}</text>",
            number(x),
            number(y),
            number(x + 28.0),
            number(y + 12.0),
            escape(&text)
        ));
    }
    svg.push_str("</g>");
    svg.push_str(&format!(
        "<text x=\"4\" y=\"{}\" font-size=\"10\" fill=\"#595959\">{CREDIT}</text></svg>",
        number(height - 7.0)
    ));
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFECTURE_CODES: [&str; 47] = [
        "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15",
        "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30",
        "31", "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45",
        "46", "47",
    ];

    fn iwate() -> &'static MunicipalityMap {
        prefecture_map("03").expect("Iwate decodes")
    }

    /// The element (`<path …>…</path>`) whose tooltip starts with `name`.
    fn path_of<'s>(svg: &'s str, name: &str) -> &'s str {
        let title = format!("<title>{name}");
        let at = svg.find(&title).expect("the municipality is drawn");
        let start = svg[..at].rfind("<path").expect("inside a path");
        &svg[start..at + title.len()]
    }

    /// The absolute points of path data as written by `push_polyline`.
    fn points(d: &str) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        let mut numbers: Vec<f64> = Vec::new();
        let mut command = ' ';
        let mut token = String::new();
        let flush = |token: &mut String, numbers: &mut Vec<f64>| {
            if !token.is_empty() {
                numbers.push(token.parse().expect("a number"));
                token.clear();
            }
        };
        let finish = |command: char, numbers: &mut Vec<f64>, out: &mut Vec<(f64, f64)>| {
            let pairs: Vec<(f64, f64)> = numbers.chunks(2).map(|p| (p[0], p[1])).collect();
            match command {
                'M' => out.extend(pairs),
                'l' => {
                    let (mut x, mut y) = *out.last().expect("a start");
                    for (dx, dy) in pairs {
                        x += dx;
                        y += dy;
                        out.push((x, y));
                    }
                }
                _ => assert!(pairs.is_empty(), "numbers after {command}"),
            }
            numbers.clear();
        };
        for ch in d.chars() {
            match ch {
                'M' | 'l' | 'z' => {
                    flush(&mut token, &mut numbers);
                    finish(command, &mut numbers, &mut out);
                    command = ch;
                }
                ' ' => flush(&mut token, &mut numbers),
                '-' => {
                    flush(&mut token, &mut numbers);
                    token.push(ch);
                }
                _ => token.push(ch),
            }
        }
        flush(&mut token, &mut numbers);
        finish(command, &mut numbers, &mut out);
        out
    }

    fn areas_of_iwate() -> HashMap<String, String> {
        let csv = include_str!("../../../data/iwate_areas.csv");
        csv.lines()
            .skip(1)
            .filter_map(|line| {
                let mut cells = line.split(',');
                let area = cells.next()?;
                let code = cells.next()?;
                Some((code.to_owned(), area.to_owned()))
            })
            .collect()
    }

    #[test]
    fn iwate_has_its_33_municipalities() {
        let map = iwate();
        assert_eq!(map.regions().len(), 33);
        let morioka = map.region("03201").expect("盛岡市");
        assert_eq!(morioka.name, "盛岡市");
        assert_eq!(morioka.prefecture, "岩手県");
        assert_eq!(map.region("03483").map(|r| r.name.as_str()), Some("岩泉町"));
        assert!(
            map.regions()
                .iter()
                .all(|r| r.code.len() == 5 && r.code.starts_with("03") && !r.d.is_empty())
        );
        // The same codes as the area list of the prefecture.
        let mut codes: Vec<&str> = map.regions().iter().map(|r| r.code.as_str()).collect();
        codes.sort_unstable();
        let areas = areas_of_iwate();
        let mut listed: Vec<&str> = areas.keys().map(String::as_str).collect();
        listed.sort_unstable();
        assert_eq!(codes, listed);
        assert!(!map.is_national());
        assert!(map.inset().is_none());
    }

    #[test]
    fn every_prefecture_decodes_one_region_per_code() {
        for code in PREFECTURE_CODES {
            let json = prefecture_topojson(code).expect("embedded");
            let raw: serde_json::Value = serde_json::from_slice(json).expect("json");
            let geometries: Vec<&serde_json::Value> = raw["objects"]
                .as_object()
                .expect("objects")
                .values()
                .flat_map(|o| o["geometries"].as_array().expect("geometries"))
                .collect();
            let distinct: std::collections::HashSet<Option<&str>> = geometries
                .iter()
                .map(|g| g["properties"]["N03_007"].as_str())
                .collect();
            assert_eq!(geometries.len(), distinct.len(), "prefecture {code}");

            let map = prefecture_map(code).expect("decodes");
            let with_code = distinct.iter().filter(|c| c.is_some()).count();
            assert_eq!(map.regions().len(), with_code, "prefecture {code}");
            // Only 所属未定地 comes without a code.
            let unassigned = distinct.len() - with_code;
            assert_eq!(
                map.unassigned().is_empty(),
                unassigned == 0,
                "prefecture {code}"
            );
            for r in map.regions() {
                assert!(r.code.starts_with(code), "{} in {code}", r.code);
                assert!(!r.d.is_empty(), "{} {} is drawn", r.code, r.name);
            }
        }
        assert!(prefecture_map("00").is_none());
        assert!(prefecture_map("48").is_none());
        assert!(prefecture_map("3").is_none());
    }

    #[test]
    fn the_national_map_has_every_municipality_with_a_shape() {
        let raw: serde_json::Value = serde_json::from_slice(JAPAN_TOPOJSON).expect("json");
        let with_shape: std::collections::HashSet<&str> = raw["objects"]
            .as_object()
            .expect("objects")
            .values()
            .flat_map(|o| o["geometries"].as_array().expect("geometries"))
            .filter(|g| g["arcs"].as_array().is_some_and(|a| !a.is_empty()))
            .filter_map(|g| g["properties"]["N03_007"].as_str())
            .collect();
        let map = japan_map().expect("decodes");
        assert_eq!(map.regions().len(), with_shape.len());
        assert!(map.is_national());
        assert_eq!(map.region("04100").map(|r| r.name.as_str()), Some("仙台市"));
        assert_eq!(map.region("03201").map(|r| r.name.as_str()), Some("盛岡市"));
        let undrawn: Vec<&str> = map
            .regions()
            .iter()
            .filter(|r| r.d.is_empty())
            .map(|r| r.name.as_str())
            .collect();
        assert!(undrawn.is_empty(), "not drawn: {undrawn:?}");
    }

    #[test]
    fn paths_stay_inside_the_viewbox() {
        let maps = PREFECTURE_CODES
            .iter()
            .filter_map(|c| prefecture_map(c))
            .chain(japan_map());
        for map in maps {
            let (w, h) = (map.width(), map.height());
            assert!(w <= FIT_WIDTH && h <= FIT_HEIGHT);
            let mut all = map
                .regions()
                .iter()
                .map(|r| r.d.as_str())
                .chain([map.unassigned()])
                .map(String::from)
                .collect::<Vec<_>>();
            all.push(map.boundaries_between(|_| Some(())));
            for d in &all {
                for (x, y) in points(d) {
                    assert!(
                        (0.0..=w).contains(&x) && (0.0..=h).contains(&y),
                        "({x}, {y}) outside 0 0 {w} {h}"
                    );
                }
            }
        }
    }

    #[test]
    fn tokyo_draws_ogasawara_in_an_inset() {
        let tokyo = prefecture_map("13").expect("Tokyo");
        let frame = tokyo.inset().expect("an inset");
        let ogasawara = tokyo.region("13421").expect("小笠原村");
        for (x, y) in points(&ogasawara.d) {
            assert!(x >= frame.x && x <= frame.x + frame.width);
            assert!(y >= frame.y && y <= frame.y + frame.height);
        }
        // The 23 wards are no longer a speck.
        let chiyoda = points(&tokyo.region("13101").expect("千代田区").d);
        let xs = chiyoda.iter().map(|p| p.0);
        let span = xs.clone().fold(f64::MIN, f64::max) - xs.fold(f64::MAX, f64::min);
        assert!(span > 2.0, "千代田区 is {span} wide");
    }

    #[test]
    fn wards_know_their_designated_city() {
        let csv = include_str!("../../../data/local_government_codes.csv");
        // Code → the parent's code for wards, `None` for other municipalities.
        let mut listed: HashMap<String, Option<String>> = HashMap::new();
        for line in csv.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let parent = cells.get(6).and_then(|p| p.get(..5)).map(str::to_owned);
            let parent = parent.filter(|_| cells.get(2) == Some(&"ward"));
            listed.insert(cells[1].to_owned(), parent);
        }
        let mut wards = 0;
        for code in PREFECTURE_CODES {
            for r in prefecture_map(code).expect("decodes").regions() {
                // Wards reorganised since the boundaries were drawn are not in the list.
                let Some(parent) = listed.get(&r.code) else {
                    continue;
                };
                let city = r.city.as_ref().map(|(c, _)| c.clone());
                assert_eq!(&city, parent, "{} {}", r.code, r.name);
                wards += usize::from(city.is_some());
            }
        }
        assert!(wards > 150, "{wards} wards");
        let aoba = prefecture_map("04")
            .and_then(|m| m.region("04101"))
            .expect("青葉区");
        assert_eq!(aoba.name, "仙台市青葉区");
        assert_eq!(aoba.city, Some(("04100".to_owned(), "仙台市".to_owned())));
    }

    #[test]
    fn area_boundaries_are_the_arcs_between_areas() {
        let map = iwate();
        let areas = areas_of_iwate();
        let outer = map.boundaries_between(|_| Some(()));
        let between_areas = map.boundaries_between(|code| areas.get(code));
        let everything = map.boundaries_between(Some);
        assert!(!outer.is_empty());
        assert!(outer.len() < between_areas.len());
        assert!(between_areas.len() < everything.len());
        // Municipalities in no area are one group.
        assert_eq!(map.boundaries_between(|_| None::<&str>), outer);
    }

    #[test]
    fn legend_shows_quantile_classes() {
        let map = iwate();
        let values: Vec<(String, Option<f64>)> = map
            .regions()
            .iter()
            .enumerate()
            .map(|(i, r)| (r.code.clone(), Some(i as f64 + 1.0)))
            .collect();
        let svg = render(
            map,
            &Choropleth {
                id: "m",
                title: "相談件数",
                unit: "件",
                values: &values,
                area_of: None,
            },
        );
        // 33 values in five classes of 7, 7, 7, 6 and 6.
        for range in ["1〜7", "8〜14", "15〜21", "22〜27", "28〜33"] {
            assert!(
                svg.contains(&format!(">{range}</text>")),
                "legend has {range}"
            );
        }
        assert!(svg.contains(">凡例（件）</text>"));
        assert!(svg.contains(">未報告</text>"));
        let palette = PALETTES[4];
        assert!(path_of(&svg, "盛岡市: 1 件").contains(palette[0]));
        assert!(svg.contains("1〜7 件：7、8〜14 件：7"));
        assert!(svg.contains("未報告：0"));
        assert!(svg.contains(CREDIT));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("role=\"img\" aria-labelledby=\"m-title m-desc\""));
        assert!(svg.contains("<title id=\"m-title\">相談件数</title><desc id=\"m-desc\">"));
        assert!(!svg.contains("style"));
    }

    #[test]
    fn few_distinct_values_get_a_class_each() {
        assert_eq!(
            breaks(&[2.0, 0.0, 5.0, 2.0, 0.0, 5.0, 5.0]),
            vec![0.0, 2.0, 5.0]
        );
        assert_eq!(breaks(&[]), Vec::<f64>::new());
        // Many zeros (common for counts) make one class; the rest share the others.
        let tied = [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0,
        ];
        let b = breaks(&tied);
        assert_eq!(b, vec![0.0, 1.0, 3.0, 4.0, 5.0]);
        assert_eq!(class_index(&b, 0.0), 0);
        assert_eq!(class_index(&b, 2.0), 1);
        assert_eq!(class_index(&b, 5.0), 4);
        assert_eq!(class_index(&b, -1.0), 0);
        assert_eq!(breaks(&[7.0; 9]), vec![7.0]);

        let map = iwate();
        let values = vec![
            ("03201".to_owned(), Some(0.0)),
            ("03202".to_owned(), Some(2.5)),
            ("03203".to_owned(), Some(1234.0)),
        ];
        let svg = render(
            map,
            &Choropleth {
                id: "f",
                title: "t",
                unit: "",
                values: &values,
                area_of: None,
            },
        );
        for (value, colour) in ["0", "2.5", "1,234"].iter().zip(PALETTES[2]) {
            assert!(svg.contains(&format!("fill=\"{colour}\" stroke=\"#737373\"")));
            assert!(
                svg.contains(&format!(">{value}</text>")),
                "legend has {value}"
            );
        }
        assert!(path_of(&svg, "宮古市: 2.5").contains(PALETTES[2][1]));
    }

    #[test]
    fn municipalities_without_data_are_hatched() {
        let map = iwate();
        let values = vec![
            ("03201".to_owned(), Some(3.0)),
            ("03202".to_owned(), None),
            ("03203".to_owned(), Some(f64::NAN)),
        ];
        let svg = render(
            map,
            &Choropleth {
                id: "n",
                title: "t",
                unit: "人",
                values: &values,
                area_of: None,
            },
        );
        assert!(svg.contains("<pattern id=\"n-nodata\""));
        assert!(path_of(&svg, "宮古市: 未報告").contains("fill=\"url(#n-nodata)\""));
        assert!(path_of(&svg, "大船渡市: 未報告").contains("fill=\"url(#n-nodata)\""));
        // No entry at all is 未報告 too.
        assert!(path_of(&svg, "花巻市: 未報告").contains("fill=\"url(#n-nodata)\""));
        assert!(path_of(&svg, "盛岡市: 3 人").contains(PALETTES[0][0]));
        assert!(svg.contains("未報告：32"));
        assert!(svg.contains("<rect x=\"") && svg.contains("fill=\"url(#n-nodata)\" stroke"));
    }

    #[test]
    fn text_is_escaped() {
        let map = iwate();
        let values = vec![("03201".to_owned(), Some(1.0))];
        let area_of = |code: &str| (code == "03201").then(|| "盛岡<&>".to_owned());
        let svg = render(
            map,
            &Choropleth {
                id: "e\"x",
                title: "<script>&'\"",
                unit: "<件>",
                values: &values,
                area_of: Some(&area_of),
            },
        );
        assert!(
            svg.contains("<title id=\"e&quot;x-title\">&lt;script&gt;&amp;&#39;&quot;</title>")
        );
        assert!(svg.contains("凡例（&lt;件&gt;）"));
        assert!(svg.contains("<title>盛岡市（盛岡&lt;&amp;&gt;）: 1 &lt;件&gt;</title>"));
        assert!(!svg.contains("<script>") && !svg.contains("<件>"));
    }

    #[test]
    fn areas_are_outlined_and_named_in_tooltips() {
        let map = iwate();
        let areas = areas_of_iwate();
        let area_of = |code: &str| areas.get(code).cloned();
        let values: Vec<(String, Option<f64>)> = vec![
            ("03201".to_owned(), Some(12.0)),
            ("03202".to_owned(), Some(4.0)),
        ];
        let svg = render(
            map,
            &Choropleth {
                id: "a",
                title: "t",
                unit: "件",
                values: &values,
                area_of: Some(&area_of),
            },
        );
        let edges = map.boundaries_between(|code| areas.get(code));
        assert!(svg.contains(&format!("<path id=\"a-edge\" d=\"{edges}\"/>")));
        assert!(svg.contains("<title>盛岡市（盛岡）: 12 件</title>"));
        assert!(svg.contains("<title>宮古市（宮古）: 4 件</title>"));
    }

    #[test]
    fn wards_take_their_city_value_and_the_nation_can_be_coloured_by_prefecture() {
        let miyagi = prefecture_map("04").expect("Miyagi");
        let values = vec![("04100".to_owned(), Some(7.0))];
        let c = Choropleth {
            id: "w",
            title: "t",
            unit: "",
            values: &values,
            area_of: None,
        };
        let svg = render(miyagi, &c);
        assert_eq!(svg.matches("<title>仙台市: 7</title>").count(), 5);

        let japan = japan_map().expect("Japan");
        let values = vec![("03".to_owned(), Some(1.0)), ("04".to_owned(), Some(2.0))];
        let svg = render(
            japan,
            &Choropleth {
                id: "j",
                title: "都道府県別",
                unit: "",
                values: &values,
                area_of: None,
            },
        );
        assert_eq!(svg.matches("<title>岩手県: 1</title>").count(), 33);
        assert!(path_of(&svg, "宮城県: 2").contains(PALETTES[1][1]));
        assert!(svg.contains("<title>北海道札幌市: 未報告</title>"));
        // Prefecture boundaries are the thick ones.
        let edges = japan.boundaries_between(|code| code.get(..2));
        assert!(svg.contains(&format!("<path id=\"j-edge\" d=\"{edges}\"/>")));
    }

    #[test]
    fn values_read_like_numbers() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(1234567.0), "1,234,567");
        assert_eq!(format_value(0.345), "0.35");
        assert_eq!(format_value(12.5), "12.5");
        assert_eq!(format_value(-1500.25), "-1,500.25");
        let mut d = String::new();
        for t in [12, 5, -5, 0, -130, 7] {
            push_tenths(&mut d, t);
        }
        assert_eq!(d, "1.2 .5-.5 0-13 .7");
    }

    #[test]
    fn iwate_renders_fast_once_cached() {
        let map = iwate();
        let areas = areas_of_iwate();
        let area_of = |code: &str| areas.get(code).cloned();
        let values: Vec<(String, Option<f64>)> = map
            .regions()
            .iter()
            .enumerate()
            .map(|(i, r)| (r.code.clone(), (i % 7 != 0).then_some((i * i % 41) as f64)))
            .collect();
        let c = Choropleth {
            id: "iwate",
            title: "市町村別の相談件数",
            unit: "件",
            values: &values,
            area_of: Some(&area_of),
        };
        let runs = 200;
        let started = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..runs {
            bytes = render(map, &c).len();
        }
        let each = started.elapsed() / runs;
        println!("Iwate choropleth: {bytes} bytes, {each:?} per render");
        let japan = japan_map().expect("Japan");
        let national = render(japan, &c);
        println!("national choropleth: {} bytes", national.len());
    }
}
