//! Many small writes in one transaction (group commit): each item in a savepoint of its own,
//! so one item's error or panic undoes only its own changes and the others commit together.
//! What a burst of claims, starts and ends costs: a few transactions instead of one each.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::{Transaction, TransactionBehavior};

use super::{Store, StoreError};

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
        let mut results = Vec::with_capacity(count);
        for item in items {
            if let Err(e) = tx.execute_batch("SAVEPOINT item") {
                return self.all_failed(count, &e.to_string());
            }
            let result =
                catch_unwind(AssertUnwindSafe(|| body(&tx, item))).unwrap_or_else(|payload| {
                    Err(self.failed(&format!(
                        "panicked: {}",
                        crate::text::panic_message(&*payload)
                    )))
                });
            if tx.is_autocommit() {
                // SQLite rolled the whole transaction back (SQLITE_FULL, SQLITE_IOERR, ...).
                let why = match &result {
                    Err(e) => e.to_string(),
                    Ok(_) => "the transaction ended early".to_owned(),
                };
                return self.all_failed(count, &why);
            }
            let end = if result.is_ok() {
                "RELEASE item"
            } else {
                "ROLLBACK TO item; RELEASE item"
            };
            if let Err(e) = tx.execute_batch(end) {
                return self.all_failed(count, &e.to_string());
            }
            results.push(result);
        }
        match tx.commit() {
            Ok(()) => results,
            Err(e) => self.all_failed(count, &e.to_string()),
        }
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
    use crate::store::Cached;

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
