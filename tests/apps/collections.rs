// A wasm32-unknown-unknown library whose `run(n)` allocates through Rust std:
// Vec, String, Box, HashMap. pyfrag's recording tests check it against `rust-dlmalloc`.
use std::collections::HashMap;

#[no_mangle]
pub extern "C" fn run(n: u32) -> u32 {
    let mut words: Vec<String> = Vec::new();
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut boxes: Vec<Box<[u8]>> = Vec::new();
    for i in 0..n {
        let w = format!("word{}-{}", i % 37, "x".repeat((i % 11) as usize));
        *counts.entry(w.clone()).or_insert(0) += 1;
        words.push(w);
        boxes.push(vec![i as u8; (i as usize * 13) % 300 + 1].into_boxed_slice());
        if i % 5 == 0 { boxes.swap_remove((i as usize * 7) % boxes.len()); }
    }
    let mut joined = String::new();
    for w in &words { joined.push_str(w); joined.push(' '); }
    let mut sum: u32 = joined.len() as u32;
    for (k, v) in &counts { sum = sum.wrapping_mul(31).wrapping_add(k.len() as u32 * v); }
    for b in &boxes { sum = sum.wrapping_add(b.iter().map(|&x| x as u32).sum::<u32>()); }
    sum
}
