//! What every target shares: an input cut into a few flag bytes, split sizes and the data,
//! and the data fed in those splits (the way bytes arrive from a socket).

/// `input` as (flags, split sizes, data): the first byte is a flag byte, the second says how
/// many of the following bytes are split sizes (0–15); the rest is the data.
pub fn parts(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let Some((&flags, rest)) = input.split_first() else {
        return (0, &[], &[]);
    };
    let Some((&n, rest)) = rest.split_first() else {
        return (flags, &[], &[]);
    };
    let n = usize::from(n % 16).min(rest.len());
    let (splits, data) = rest.split_at(n);
    (flags, splits, data)
}

/// `data` in pieces whose sizes cycle through `splits` (each 1–256; all of it at once when
/// there are none).
pub fn chunks<'a>(splits: &'a [u8], data: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut pos = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let size = match splits.get(i % splits.len().max(1)) {
            Some(&s) => usize::from(s) + 1,
            None => data.len(),
        };
        i += 1;
        let end = (pos + size).min(data.len());
        let piece = &data[pos..end];
        pos = end;
        Some(piece)
    })
}
