//! The offline Places backend: made-up places around the query location, a pure function of
//! the query, in the legacy Nearby Search JSON shape. Holds the generator, its PRNG and
//! hashing, the spherical geometry it uses, and its word lists.

use std::f64::consts::TAU;

use serde_json::{Map, Value};

use super::{NearbyQuery, PAGE_SIZE, failure_response};

/// Mean Earth radius in metres (spherical model, as in the haversine formula).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Nearby Search never looks further than this.
const MAX_RADIUS_M: f64 = 50_000.0;

/// Below this radius nothing is found (`ZERO_RESULTS`).
const MIN_RADIUS_WITH_RESULTS_M: f64 = 5.0;

/// Nearby Search returns at most three pages.
const MAX_RESULTS: usize = 60;

/// Places are put no further than this fraction of the radius, so that rounding the
/// coordinates to 7 decimals cannot push one outside.
const RADIUS_MARGIN: f64 = 0.98;

struct Category {
    types: &'static [&'static str],
    nouns: &'static [&'static str],
    priced: bool,
}

const CATEGORIES: &[Category] = &[
    Category {
        types: &["cafe", "food"],
        nouns: &["Coffee Roasters", "Cafe", "Espresso Bar", "Coffee House", "Tea Room"],
        priced: true,
    },
    Category {
        types: &["restaurant", "food"],
        nouns: &[
            "Kitchen",
            "Bistro",
            "Grill",
            "Diner",
            "Taqueria",
            "Noodle House",
            "Pizzeria",
            "Sushi Bar",
        ],
        priced: true,
    },
    Category {
        types: &["bakery", "food", "store"],
        nouns: &["Bakery", "Bread Co.", "Patisserie", "Donuts"],
        priced: true,
    },
    Category {
        types: &["bar"],
        nouns: &["Tavern", "Taproom", "Wine Bar", "Pub", "Lounge"],
        priced: true,
    },
    Category {
        types: &["library"],
        nouns: &["Library", "Branch Library", "Reading Room"],
        priced: false,
    },
    Category {
        types: &["park", "tourist_attraction"],
        nouns: &["Park", "Gardens", "Recreation Center", "Playground"],
        priced: false,
    },
    Category {
        types: &["museum", "tourist_attraction"],
        nouns: &["Museum", "Art Gallery", "History Center"],
        priced: false,
    },
    Category {
        types: &["gym", "health"],
        nouns: &["Fitness", "Athletic Club", "Yoga Studio", "Climbing Gym"],
        priced: false,
    },
    Category {
        types: &["book_store", "store"],
        nouns: &["Books", "Bookshop", "Used Books"],
        priced: false,
    },
    Category {
        types: &["supermarket", "grocery_or_supermarket", "food", "store"],
        nouns: &["Market", "Grocery", "Farmers Market"],
        priced: false,
    },
    Category {
        types: &["pharmacy", "health", "store"],
        nouns: &["Pharmacy", "Drugstore"],
        priced: false,
    },
    Category {
        types: &["movie_theater"],
        nouns: &["Cinema", "Theatre", "Playhouse"],
        priced: false,
    },
    Category { types: &["lodging"], nouns: &["Inn", "Hotel", "Suites"], priced: false },
    Category {
        types: &["bank", "finance"],
        nouns: &["Credit Union", "Savings Bank"],
        priced: false,
    },
    Category { types: &["laundry"], nouns: &["Laundromat", "Cleaners"], priced: false },
];

const NAME_PREFIXES: &[&str] = &[
    "Westwood",
    "Sunset",
    "Bruin",
    "Hilltop",
    "Canyon",
    "Harbor",
    "Maple",
    "Golden Hour",
    "Royce",
    "Pacific",
    "Juniper",
    "Cedar",
    "Olive Tree",
    "Mission",
    "Ocean View",
    "Blue Door",
    "Corner",
    "Lantern",
    "Red Fox",
    "Twin Oaks",
    "Riverside",
    "Union",
    "Copper Kettle",
    "Parkside",
    "Midtown",
    "Old Mill",
    "Northstar",
    "Bayside",
];

const STREETS: &[&str] = &[
    "Gayley Ave",
    "Westwood Blvd",
    "Le Conte Ave",
    "Hilgard Ave",
    "Sunset Blvd",
    "Wilshire Blvd",
    "Weyburn Ave",
    "Kinross Ave",
    "Glendon Ave",
    "Broxton Ave",
    "Tiverton Ave",
    "Strathmore Dr",
    "Landfair Ave",
    "Veteran Ave",
    "Montana Ave",
    "Ocean Ave",
    "Main St",
    "Oak St",
    "Elm St",
    "Park Pl",
    "Lake Dr",
    "Hill Rd",
    "Market St",
    "Cedar Ln",
    "River Rd",
];

const CITIES: &[&str] = &[
    "Los Angeles",
    "Santa Monica",
    "Culver City",
    "Pasadena",
    "Springfield",
    "Riverside",
    "Fairview",
    "Lakewood",
    "Greenville",
    "Franklin",
    "Madison",
    "Georgetown",
];

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// splitmix64: tiny, fast and good enough to make up places.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn push_base64url(&mut self, out: &mut String, count: usize) {
        let mut bits = 0u64;
        let mut left = 0u32;
        for _ in 0..count {
            if left < 6 {
                bits = self.next_u64();
                left = 64;
            }
            out.push(char::from(BASE64URL[(bits & 63) as usize]));
            bits >>= 6;
            left -= 6;
        }
    }
}

/// FNV-1a over the bytes of some numbers.
fn fnv1a(words: &[u64]) -> u64 {
    let mut hash = 0xCBF2_9CE4_8422_2325_u64;
    for word in words {
        for byte in word.to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    hash
}

/// Bits of a float with `-0.0` folded into `0.0`, so equal numbers hash equal.
fn canonical_bits(x: f64) -> u64 {
    (x + 0.0).to_bits()
}

fn parse_finite(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

fn round7(x: f64) -> f64 {
    (x * 1e7).round() / 1e7
}

/// Longitude folded into `[-180, 180]`.
fn wrap_lng(lng: f64) -> f64 {
    if (-180.0..=180.0).contains(&lng) { lng } else { (lng + 180.0).rem_euclid(360.0) - 180.0 }
}

fn clamp_lat(lat: f64) -> f64 {
    lat.clamp(-90.0, 90.0)
}

/// The point `distance_m` away from (`lat`, `lng`) along `bearing` (radians from north),
/// on a sphere; degrees in and out.
fn destination(lat: f64, lng: f64, distance_m: f64, bearing: f64) -> (f64, f64) {
    let phi1 = lat.to_radians();
    let lambda1 = lng.to_radians();
    let delta = distance_m / EARTH_RADIUS_M;
    let (sin_phi1, cos_phi1) = phi1.sin_cos();
    let (sin_delta, cos_delta) = delta.sin_cos();
    let (sin_theta, cos_theta) = bearing.sin_cos();
    let sin_phi2 = (sin_phi1 * cos_delta + cos_phi1 * sin_delta * cos_theta).clamp(-1.0, 1.0);
    let phi2 = sin_phi2.asin();
    let lambda2 =
        lambda1 + (sin_theta * sin_delta * cos_phi1).atan2(cos_delta - sin_phi1 * sin_phi2);
    (phi2.to_degrees(), lambda2.to_degrees())
}

/// Total number of places around a location within `radius_m`: grows with the radius,
/// scaled by a per-location density, so a larger radius never finds fewer.
fn result_count(location_seed: u64, radius_m: f64) -> usize {
    if radius_m < MIN_RADIUS_WITH_RESULTS_M {
        return 0;
    }
    let base = 6.0 + 8.0 * (radius_m / MIN_RADIUS_WITH_RESULTS_M).log10();
    let density = 0.8 + 0.6 * SplitMix64(location_seed).unit();
    ((base * density).round() as usize).clamp(5, MAX_RESULTS)
}

fn lat_lng(lat: f64, lng: f64) -> Value {
    let mut point = Map::with_capacity(2);
    point.insert("lat".into(), Value::from(lat));
    point.insert("lng".into(), Value::from(lng));
    Value::Object(point)
}

fn made_up_place(rng: &mut SplitMix64, lat: f64, lng: f64, radius_m: f64, city: &str) -> Value {
    let category = rng.pick(CATEGORIES);

    let distance = radius_m * RADIUS_MARGIN * rng.unit().sqrt();
    let bearing = TAU * rng.unit();
    let (place_lat, place_lng) = destination(lat, lng, distance, bearing);
    let place_lat = clamp_lat(round7(place_lat));
    let place_lng = round7(wrap_lng(place_lng));

    let mut geometry = Map::with_capacity(1);
    geometry.insert("location".into(), lat_lng(place_lat, place_lng));

    let prefix = rng.pick(NAME_PREFIXES);
    let noun = rng.pick(category.nouns);
    let name = format!("{prefix} {noun}");

    let mut place_id = String::with_capacity(27);
    place_id.push_str("ChIJ");
    rng.push_base64url(&mut place_id, 23);

    let skew = rng.unit();
    let rating_tenths = 50 - ((skew * skew * 40.0) as u32).min(40);
    let rating = f64::from(rating_tenths) / 10.0;
    let spread = rng.unit();
    let ratings_total = 1 + (spread * spread * spread * 4000.0) as u64;
    let open_now = rng.unit() < 0.7;
    let price_level = category.priced.then(|| 1 + rng.below(3));

    let number = 100 + rng.below(9900);
    let street = rng.pick(STREETS);
    let vicinity = format!("{number} {street}, {city}");

    let mut types = Vec::with_capacity(category.types.len() + 2);
    types.extend(category.types.iter().map(|t| Value::String((*t).into())));
    types.push(Value::String("point_of_interest".into()));
    types.push(Value::String("establishment".into()));

    let mut place = Map::with_capacity(10);
    place.insert("business_status".into(), Value::String("OPERATIONAL".into()));
    place.insert("geometry".into(), Value::Object(geometry));
    place.insert("name".into(), Value::String(name));
    let mut hours = Map::with_capacity(1);
    hours.insert("open_now".into(), Value::Bool(open_now));
    place.insert("opening_hours".into(), Value::Object(hours));
    place.insert("place_id".into(), Value::String(place_id));
    if let Some(level) = price_level {
        place.insert("price_level".into(), Value::from(level));
    }
    place.insert("rating".into(), Value::from(rating));
    place.insert("types".into(), Value::Array(types));
    place.insert("user_ratings_total".into(), Value::from(ratings_total));
    place.insert("vicinity".into(), Value::String(vicinity));
    Value::Object(place)
}

/// The offline answer to a Nearby Search: made-up places within the radius, in the legacy
/// JSON shape. A pure function of the query (same query, same bytes). At most
/// [`PAGE_SIZE`] results; a `next_page_token` when more exist. Unparseable or out-of-range
/// numbers give `INVALID_REQUEST`, a radius under 5 m gives `ZERO_RESULTS`.
pub fn offline_nearby(query: &NearbyQuery) -> Value {
    let lat = parse_finite(&query.lat).filter(|lat| (-90.0..=90.0).contains(lat));
    let lng = parse_finite(&query.lng).filter(|lng| (-180.0..=180.0).contains(lng));
    let (Some(lat), Some(lng)) = (lat, lng) else {
        return failure_response(
            "INVALID_REQUEST",
            &format!("invalid location '{},{}'", query.lat, query.lng),
        );
    };
    let Some(radius) = parse_finite(&query.radius_m).filter(|r| *r > 0.0) else {
        return failure_response(
            "INVALID_REQUEST",
            &format!("invalid radius '{}'", query.radius_m),
        );
    };
    let radius = radius.min(MAX_RADIUS_M);

    let location_seed = fnv1a(&[canonical_bits(lat), canonical_bits(lng)]);
    let query_seed = fnv1a(&[location_seed, canonical_bits(radius)]);
    let total = result_count(location_seed, radius);

    let mut fields = Map::with_capacity(4);
    fields.insert("html_attributions".into(), Value::Array(Vec::new()));
    if total == 0 {
        fields.insert("results".into(), Value::Array(Vec::new()));
        fields.insert("status".into(), Value::String("ZERO_RESULTS".into()));
        return Value::Object(fields);
    }
    if total > PAGE_SIZE {
        let mut token = String::with_capacity(160);
        token.push_str("AW30Nd");
        SplitMix64(query_seed ^ 0x5A5A_5A5A_5A5A_5A5A).push_base64url(&mut token, 154);
        fields.insert("next_page_token".into(), Value::String(token));
    }
    let mut rng = SplitMix64(query_seed);
    let city = *rng.pick(CITIES);
    let results = (0..total.min(PAGE_SIZE))
        .map(|_| made_up_place(&mut rng, lat, lng, radius, city))
        .collect();
    fields.insert("results".into(), Value::Array(results));
    fields.insert("status".into(), Value::String("OK".into()));
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::places::tests::{assert_well_formed, query};
    use crate::places::{render_trimmed, status_of};
    use serde_json::json;

    fn haversine_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let dp = p2 - p1;
        let dl = (lng2 - lng1).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }

    #[test]
    fn offline_is_deterministic() {
        let q = query("34.068930", "-118.445127", "10000");
        let a = render_trimmed(&offline_nearby(&q), 20);
        let b = render_trimmed(&offline_nearby(&q), 20);
        assert_eq!(a, b);
        assert_well_formed(&a);
        // Another query gives other places.
        let other = render_trimmed(&offline_nearby(&query("34.068930", "-118.445127", "9000")), 20);
        assert_ne!(a, other);
        let moved =
            render_trimmed(&offline_nearby(&query("34.068931", "-118.445127", "10000")), 20);
        assert_ne!(a, moved);
    }

    #[test]
    fn offline_result_shape() {
        let value = offline_nearby(&query("34.068930", "-118.445127", "10000"));
        assert_eq!(status_of(&value), "OK");
        assert_eq!(value["html_attributions"], json!([]));
        let results = value["results"].as_array().unwrap();
        assert!(!results.is_empty());
        for place in results {
            assert_eq!(place["business_status"], "OPERATIONAL");
            assert!(place["geometry"]["location"]["lat"].is_f64());
            assert!(place["geometry"]["location"]["lng"].is_f64());
            let name = place["name"].as_str().unwrap();
            assert!(name.contains(' '), "{name}");
            let id = place["place_id"].as_str().unwrap();
            assert_eq!(id.len(), 27);
            assert!(id.starts_with("ChIJ"));
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            let rating = place["rating"].as_f64().unwrap();
            assert!((1.0..=5.0).contains(&rating));
            assert!(((rating * 10.0).round() - rating * 10.0).abs() < 1e-9);
            let types: Vec<&str> =
                place["types"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
            assert!(types.len() >= 3);
            assert_eq!(&types[types.len() - 2..], ["point_of_interest", "establishment"]);
            assert!(place["user_ratings_total"].as_u64().unwrap() >= 1);
            let vicinity = place["vicinity"].as_str().unwrap();
            assert!(vicinity.contains(", "), "{vicinity}");
            assert!(vicinity.starts_with(|c: char| c.is_ascii_digit()));
        }
    }

    #[test]
    fn offline_results_lie_within_the_radius() {
        let cases = [
            ("34.068930", "-118.445127", "10000"),
            ("34.068930", "-118.445127", "50000"),
            ("34.068930", "-118.445127", "7"),
            ("0", "0", "1000"),
            ("-33.8688", "151.2093", "25000"),
            ("89.999", "10", "50000"),
            ("-89.9", "-45", "30000"),
            ("90", "0", "20000"),
            ("12.5", "179.9999", "40000"),
            ("-12.5", "-179.9999", "40000"),
            ("64.1", "180", "50000"),
        ];
        for (lat, lng, radius) in cases {
            let value = offline_nearby(&query(lat, lng, radius));
            assert_eq!(status_of(&value), "OK", "{lat},{lng} r={radius}");
            let (lat, lng, radius): (f64, f64, f64) =
                (lat.parse().unwrap(), lng.parse().unwrap(), radius.parse().unwrap());
            for place in value["results"].as_array().unwrap() {
                let plat = place["geometry"]["location"]["lat"].as_f64().unwrap();
                let plng = place["geometry"]["location"]["lng"].as_f64().unwrap();
                assert!((-90.0..=90.0).contains(&plat), "{plat}");
                assert!((-180.0..=180.0).contains(&plng), "{plng}");
                let d = haversine_m(lat, lng, plat, plng);
                assert!(d <= radius, "{d} m > {radius} m at {lat},{lng}");
            }
        }
    }

    #[test]
    fn offline_radius_above_the_maximum_is_capped() {
        let value = offline_nearby(&query("34.068930", "-118.445127", "1e9"));
        assert_eq!(status_of(&value), "OK");
        for place in value["results"].as_array().unwrap() {
            let plat = place["geometry"]["location"]["lat"].as_f64().unwrap();
            let plng = place["geometry"]["location"]["lng"].as_f64().unwrap();
            assert!(haversine_m(34.068_93, -118.445_127, plat, plng) <= MAX_RADIUS_M);
        }
    }

    #[test]
    fn offline_pages_hold_at_most_twenty() {
        let mut saw_token = false;
        let mut saw_single_page = false;
        for i in 0..200 {
            let lat = format!("{:.6}", -60.0 + f64::from(i) * 0.6);
            let lng = format!("{:.6}", -170.0 + f64::from(i) * 1.7);
            for radius in ["10", "100", "1000", "10000", "50000"] {
                let value = offline_nearby(&query(&lat, &lng, radius));
                let r: f64 = radius.parse().unwrap();
                let total = result_count(
                    fnv1a(&[
                        canonical_bits(lat.parse().unwrap()),
                        canonical_bits(lng.parse().unwrap()),
                    ]),
                    r,
                );
                assert!((5..=MAX_RESULTS).contains(&total));
                let results = value["results"].as_array().unwrap();
                assert_eq!(results.len(), total.min(PAGE_SIZE));
                let token = value.get("next_page_token");
                assert_eq!(token.is_some(), total > PAGE_SIZE);
                if let Some(token) = token {
                    saw_token = true;
                    assert!(token.as_str().unwrap().len() > 100);
                } else {
                    saw_single_page = true;
                }
            }
        }
        assert!(saw_token && saw_single_page);
    }

    #[test]
    fn offline_field_order_follows_google() {
        let value = offline_nearby(&query("34.068930", "-118.445127", "50000"));
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["html_attributions", "next_page_token", "results", "status"]);
        let token_again = offline_nearby(&query("34.068930", "-118.445127", "50000"));
        assert_eq!(value["next_page_token"], token_again["next_page_token"]);
    }

    #[test]
    fn offline_count_grows_with_radius() {
        for (lat, lng) in [("34.068930", "-118.445127"), ("51.5", "-0.12"), ("0", "0")] {
            let seed = fnv1a(&[
                canonical_bits(lat.parse().unwrap()),
                canonical_bits(lng.parse().unwrap()),
            ]);
            let mut previous = 0;
            for radius in [5.0, 10.0, 50.0, 200.0, 1000.0, 5000.0, 20000.0, 50000.0] {
                let count = result_count(seed, radius);
                assert!(count >= previous, "{count} < {previous} at {radius}");
                previous = count;
            }
        }
    }

    #[test]
    fn offline_tiny_radius_finds_nothing() {
        let value = offline_nearby(&query("34.068930", "-118.445127", "1"));
        assert_eq!(status_of(&value), "ZERO_RESULTS");
        assert_eq!(value["results"], json!([]));
        assert!(value.get("next_page_token").is_none());
        assert_well_formed(&render_trimmed(&value, 5));
    }

    #[test]
    fn offline_rejects_bad_numbers() {
        for (lat, lng, radius) in [
            ("abc", "-118.4", "100"),
            ("34.0", "", "100"),
            ("91", "0", "100"),
            ("0", "-180.5", "100"),
            ("NaN", "0", "100"),
            ("inf", "0", "100"),
            ("0", "0", "zero"),
            ("0", "0", "0"),
            ("0", "0", "-5"),
        ] {
            let value = offline_nearby(&query(lat, lng, radius));
            assert_eq!(status_of(&value), "INVALID_REQUEST", "{lat},{lng} r={radius}");
            assert_eq!(value["results"], json!([]));
            assert!(value["error_message"].is_string());
        }
    }

    #[test]
    fn offline_numbers_are_compared_by_value() {
        let a = offline_nearby(&query("34.5", "-118.0", "1000"));
        let b = offline_nearby(&query("34.500", "-118", "1000.0"));
        assert_eq!(a, b);
        let c = offline_nearby(&query("0", "0", "1000"));
        let d = offline_nearby(&query("-0", "-0.0", "1000"));
        assert_eq!(c, d);
    }

    #[test]
    fn wrap_and_clamp() {
        assert!((wrap_lng(181.0) - -179.0).abs() < 1e-9);
        assert!((wrap_lng(-181.0) - 179.0).abs() < 1e-9);
        assert!((wrap_lng(540.0) - -180.0).abs() < 1e-9);
        assert!((wrap_lng(180.0) - 180.0).abs() < 1e-12);
        assert!((clamp_lat(90.000_000_1) - 90.0).abs() < 1e-12);
        assert!((clamp_lat(-95.0) + 90.0).abs() < 1e-12);
    }
}
