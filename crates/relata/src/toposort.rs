//! A generic, stable topological sort (Kahn's algorithm): nodes come out after everything they
//! depend on, ties broken by their original order. Used for DDL and flush ordering.

/// Orders nodes `0..n` so that each comes after its dependencies (`deps(i)` lists the nodes `i`
/// depends on). On a cycle, returns the nodes that are part of it or wait on it.
pub(crate) fn toposort(
    n: usize,
    deps: impl Fn(usize) -> Vec<usize>,
) -> Result<Vec<usize>, Vec<usize>> {
    let mut waiting: Vec<usize> = vec![0; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, count) in waiting.iter_mut().enumerate() {
        for d in deps(i) {
            if d != i {
                *count += 1;
                dependents[d].push(i);
            }
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependents[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.insert(j);
            }
        }
    }
    if order.len() == n {
        Ok(order)
    } else {
        Err((0..n).filter(|&i| waiting[i] > 0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::toposort;

    fn check(n: usize, edges: &[(usize, usize)], expect: Result<Vec<usize>, Vec<usize>>) {
        let got = toposort(n, |i| {
            edges.iter().filter(|e| e.0 == i).map(|e| e.1).collect()
        });
        assert_eq!(got, expect);
    }

    #[test]
    fn orders_dependencies_first_and_keeps_ties_stable() {
        check(3, &[], Ok(vec![0, 1, 2]));
        // 0 = student_course depends on 1 = students and 2 = courses
        check(3, &[(0, 1), (0, 2)], Ok(vec![1, 2, 0]));
        check(4, &[(0, 3), (1, 0)], Ok(vec![2, 3, 0, 1]));
        check(2, &[(0, 0)], Ok(vec![0, 1]));
    }

    #[test]
    fn reports_cycles() {
        check(3, &[(0, 1), (1, 0)], Err(vec![0, 1]));
    }
}
