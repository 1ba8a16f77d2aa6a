//! Paging shared by Graph and the Exchange admin API: the page size a client prefers
//! (`Prefer: odata.maxpagesize=N`) and the slice of a collection one page shows.

use std::ops::Range;

use axum::http::HeaderMap;

/// The page size asked for with `Prefer: odata.maxpagesize=N`, if any.
pub fn preferred_page_size(headers: &HeaderMap) -> Option<usize> {
    headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .and_then(|p| {
            p.split(',').find_map(|x| {
                x.trim()
                    .strip_prefix("odata.maxpagesize=")?
                    .parse::<usize>()
                    .ok()
            })
        })
}

/// One page of a collection of `total` items: `size` items from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    start: usize,
    end: usize,
    total: usize,
}

impl Page {
    /// The page of `size` items from `offset` (clamped to the collection).
    pub fn new(offset: usize, size: usize, total: usize) -> Self {
        Self {
            start: offset.min(total),
            end: (offset + size).min(total),
            total,
        }
    }

    /// The positions on this page.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// Where the next page starts, unless this is the last one.
    pub fn next(&self) -> Option<usize> {
        (self.end < self.total).then_some(self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_clamp_to_the_collection() {
        assert_eq!(Page::new(0, 10, 25).next(), Some(10));
        assert_eq!(Page::new(20, 10, 25).range(), 20..25);
        assert_eq!(Page::new(20, 10, 25).next(), None);
        assert_eq!(Page::new(30, 10, 25).range(), 25..25);
    }
}
