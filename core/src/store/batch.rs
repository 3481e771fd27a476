//! Many small writes in one transaction (group commit): each item in a savepoint of its own,
//! so one item's error or panic undoes only its own changes and the others commit together.
//! What a burst of claims, starts and ends costs: a few transactions instead of one each.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::{Transaction, TransactionBehavior};

use super::{Cached, Store, StoreError};

impl Store {
    /// Run `body` on each of `items` in one write transaction, each in a savepoint: an item's
    /// `Err` (or panic, returned as an error) rolls back that item's changes only and takes its
    /// place in the result; the others are committed together, in order. When the transaction
    /// itself fails (it cannot begin or commit, or SQLite ends it after an error: a full disk),
    /// nothing of it is kept and every item gets an error.
    pub(crate) fn write_each<I, T>(
        &self,
        items: impl IntoIterator<Item = I>,
        body: impl Fn(&Transaction<'_>, I) -> Result<T, StoreError>,
    ) -> Vec<Result<T, StoreError>> {
        let items: Vec<I> = items.into_iter().collect();
        let count = items.len();
        if count == 0 {
            return Vec::new();
        }
        let mut conn = self.lock();
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => return self.all_failed(count, &e.to_string()),
        };
        // One item needs no savepoint: its error rolls the transaction back.
        let savepoints = count > 1;
        let mut results = Vec::with_capacity(count);
        for item in items {
            if !savepoints {
                let result = catch_unwind(AssertUnwindSafe(|| body(&tx, item)))
                    .unwrap_or_else(|payload| Err(self.panicked(&*payload)));
                return match result {
                    Ok(value) => match tx.commit() {
                        Ok(()) => vec![Ok(value)],
                        Err(e) => self.all_failed(count, &e.to_string()),
                    },
                    // Dropping the transaction rolls it back.
                    Err(e) => vec![Err(e)],
                };
            }
            if let Err(e) = tx.exec_cached("SAVEPOINT item", []) {
                return self.all_failed(count, &e.to_string());
            }
            let result = catch_unwind(AssertUnwindSafe(|| body(&tx, item)))
                .unwrap_or_else(|payload| Err(self.panicked(&*payload)));
            if tx.is_autocommit() {
                // SQLite rolled the whole transaction back (SQLITE_FULL, SQLITE_IOERR, ...).
                let why = match &result {
                    Err(e) => e.to_string(),
                    Ok(_) => "the transaction ended early".to_owned(),
                };
                return self.all_failed(count, &why);
            }
            let ended = if result.is_ok() {
                tx.exec_cached("RELEASE item", [])
            } else {
                tx.exec_cached("ROLLBACK TO item", [])
                    .and_then(|_| tx.exec_cached("RELEASE item", []))
            };
            if let Err(e) = ended {
                return self.all_failed(count, &e.to_string());
            }
            results.push(result);
        }
        match tx.commit() {
            Ok(()) => results,
            Err(e) => self.all_failed(count, &e.to_string()),
        }
    }

    fn panicked(&self, payload: &(dyn std::any::Any + Send)) -> StoreError {
        self.failed(&format!(
            "panicked: {}",
            crate::text::panic_message(payload)
        ))
    }

    fn failed(&self, message: &str) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            message: message.to_owned(),
        }
    }

    /// Every item of a batch whose transaction failed: none of them is stored.
    fn all_failed<T>(&self, count: usize, why: &str) -> Vec<Result<T, StoreError>> {
        (0..count)
            .map(|_| Err(self.failed(&format!("the batch was not stored: {why}"))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cronhost.db")).unwrap();
        (dir, store)
    }

    fn insert(tx: &Transaction<'_>, n: i64) -> Result<i64, StoreError> {
        tx.exec_cached(
            "INSERT INTO sequence (name, value) VALUES (?1, ?2)",
            rusqlite::params![format!("batch-{n}"), n],
        )
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(n)
    }

    fn kept(store: &Store) -> Vec<String> {
        store
            .read(|conn| {
                let mut statement = conn
                    .prepare("SELECT name FROM sequence WHERE name LIKE 'batch-%' ORDER BY name")
                    .unwrap();
                let keys = statement
                    .query_map([], |r| r.get::<_, String>(0))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                Ok(keys)
            })
            .unwrap()
    }

    #[test]
    fn a_lone_item_that_fails_or_panics_leaves_nothing() {
        let (_dir, store) = store();
        let failed = store.write_each([1], |tx, n| {
            insert(tx, n)?;
            Err::<i64, _>(StoreError::Invalid("refused".into()))
        });
        assert!(matches!(failed[..], [Err(StoreError::Invalid(_))]));
        let panicked = store.write_each([2], |tx, n| -> Result<i64, StoreError> {
            insert(tx, n)?;
            panic!("lone item broke")
        });
        assert!(panicked[0]
            .as_ref()
            .is_err_and(|e| e.to_string().contains("lone item broke")));
        assert!(matches!(store.write_each([3], insert)[..], [Ok(3)]));
        assert_eq!(kept(&store), ["batch-3"]);
    }

    #[test]
    fn an_item_that_fails_or_panics_undoes_only_itself() {
        let (_dir, store) = store();
        let results = store.write_each(1..=4, |tx, n| {
            let kept = insert(tx, n)?;
            match n {
                2 => Err(StoreError::Invalid("refused".into())),
                3 => panic!("item 3 broke"),
                _ => Ok(kept),
            }
        });
        assert_eq!(results.len(), 4);
        assert!(matches!(results[0], Ok(1)));
        assert!(matches!(results[1], Err(StoreError::Invalid(_))));
        assert!(
            results[2]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("item 3 broke")),
            "{:?}",
            results[2]
        );
        assert!(matches!(results[3], Ok(4)));
        assert_eq!(kept(&store), ["batch-1", "batch-4"]);
    }
}
