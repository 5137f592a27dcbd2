//! The order scheduled work takes its items in: round-robin across agents, so an agent with a
//! thousand due deliveries gets one turn per pass like an agent with one, and none waits behind
//! another's backlog. Within an agent, and among agents by their first item, the order the
//! items came in (earliest due first) is kept.

use std::collections::HashMap;

/// `items` reordered round-robin by `agent_of`: every agent's first item, then every agent's
/// second, and so on.
pub(super) fn round_robin<T>(items: Vec<T>, agent_of: impl Fn(&T) -> &str) -> Vec<T> {
    let mut queues: Vec<std::collections::VecDeque<T>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in items {
        let slot = match index.get(agent_of(&item)) {
            Some(&slot) => slot,
            None => {
                index.insert(agent_of(&item).to_owned(), queues.len());
                queues.push(std::collections::VecDeque::new());
                queues.len() - 1
            }
        };
        queues[slot].push_back(item);
    }
    let mut fair = Vec::new();
    loop {
        let before = fair.len();
        for queue in &mut queues {
            if let Some(item) = queue.pop_front() {
                fair.push(item);
            }
        }
        if fair.len() == before {
            return fair;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::round_robin;

    #[test]
    fn each_agent_takes_one_turn_per_pass_in_arrival_order() {
        let items = vec![
            ("a", 1),
            ("a", 2),
            ("a", 3),
            ("b", 1),
            ("a", 4),
            ("c", 1),
            ("b", 2),
        ];
        let fair = round_robin(items, |(agent, _)| agent);
        assert_eq!(
            fair,
            vec![
                ("a", 1),
                ("b", 1),
                ("c", 1),
                ("a", 2),
                ("b", 2),
                ("a", 3),
                ("a", 4)
            ]
        );
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(round_robin(Vec::<(&str, u8)>::new(), |(a, _)| a).is_empty());
    }
}
