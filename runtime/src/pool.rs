//! The live instances of one backend's driver, as Manila keeps its drivers:
//! an instance is made and set up once, then serves one operation after
//! another, keeping what it learned (a session with the array, a client,
//! caches) in its memory. Up to [`SandboxLimits::max_instances`] of them
//! serve operations at once; a further operation waits for one to be free.
//! An instance that trapped (a timeout is a trap) is thrown away and the
//! next operation gets a new one, set up again.
//!
//! [`SandboxLimits::max_instances`]: crate::SandboxLimits::max_instances

use crate::contract::{Call, Driver};
use crate::error::Result;
use crate::sandbox::{DriverComponent, DriverInstance, Sandbox, State};
use std::sync::{Condvar, Mutex, MutexGuard};
use wasmtime::Store;

/// One backend's instances.
#[derive(Debug)]
pub(crate) struct InstancePool {
    driver: DriverComponent,
    sandbox: Sandbox,
    instances: Mutex<Instances>,
    /// Signalled when an instance comes back or a place frees up.
    returned: Condvar,
}

#[derive(Debug, Default)]
struct Instances {
    /// Set up and waiting for an operation.
    idle: Vec<DriverInstance>,
    /// Idle, busy, or being made: never more than `max_instances`.
    live: usize,
    /// Instances made so far, for `stats` and tests.
    made: u64,
    /// Instances discarded after a trap and not yet replaced.
    lost: u64,
}

/// What the pool has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Instances alive now (idle or serving an operation).
    pub live: usize,
    /// Instances made (and set up) since the backend was loaded.
    pub made: u64,
}

impl InstancePool {
    pub(crate) fn new(driver: DriverComponent, sandbox: Sandbox) -> Self {
        InstancePool {
            driver,
            sandbox,
            instances: Mutex::default(),
            returned: Condvar::new(),
        }
    }

    pub(crate) fn driver(&self) -> &DriverComponent {
        &self.driver
    }

    pub(crate) fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let instances = self.lock();
        PoolStats {
            live: instances.live,
            made: instances.made,
        }
    }

    /// Run `operation` on an idle instance, or on a new one set up for it.
    pub(crate) fn call<R>(
        &self,
        operation: &'static str,
        op: impl FnOnce(&mut Store<State>, &Driver) -> Call<R>,
    ) -> Result<R> {
        let mut instance = self.take()?;
        let result = instance.call(operation, op);
        self.give_back(instance);
        result
    }

    /// Make a new instance and set it up, as the first operation would,
    /// even when others are live: a missing root or a refused option shows
    /// here. The instance then serves the next operation if there is room
    /// for it; a driver is not set up twice (nor logs in to its array
    /// twice) because its backend was checked before its first operation.
    pub(crate) fn check_setup(&self) -> Result<()> {
        let place = self.reserve(&mut self.lock());
        match place {
            Some(replacing) => {
                let instance = self.build(replacing)?;
                self.give_back(instance);
                Ok(())
            }
            None => self.make().map(drop),
        }
    }

    /// An idle instance, or a new one set up once there is room for it.
    fn take(&self) -> Result<DriverInstance> {
        let mut instances = self.lock();
        loop {
            if let Some(instance) = instances.idle.pop() {
                return Ok(instance);
            }
            if let Some(replacing) = self.reserve(&mut instances) {
                drop(instances);
                return self.build(replacing);
            }
            instances = self.returned.wait(instances).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// A place for a new instance, if the backend has room for one: counted
    /// as live and made from now. Whether it replaces one lost to a trap.
    fn reserve(&self, instances: &mut Instances) -> Option<bool> {
        if instances.live >= self.sandbox.limits.max_instances.max(1) {
            return None;
        }
        instances.live += 1;
        instances.made += 1;
        let replacing = instances.lost > 0;
        instances.lost = instances.lost.saturating_sub(1);
        Some(replacing)
    }

    /// A new instance in a place [`Self::reserve`] gave; the place is given
    /// back if it cannot be made or set up.
    fn build(&self, replacing: bool) -> Result<DriverInstance> {
        let made = self.make();
        match &made {
            Ok(_) => self.sandbox.metrics.instance_built(replacing),
            Err(_) => {
                let mut instances = self.lock();
                instances.lost += u64::from(replacing);
                instances.live -= 1;
                drop(instances);
                self.returned.notify_one();
            }
        }
        made
    }

    fn make(&self) -> Result<DriverInstance> {
        let mut instance = self.driver.instantiate(&self.sandbox)?;
        instance.setup()?;
        Ok(instance)
    }

    /// Keep `instance` for the next operation, unless it trapped.
    fn give_back(&self, instance: DriverInstance) {
        if instance.is_usable() {
            self.lock().idle.push(instance);
            self.returned.notify_one();
        } else {
            tracing::info!(
                backend = %self.sandbox.backend,
                "the driver instance trapped; the next operation gets a new one"
            );
            drop(instance);
            let mut instances = self.lock();
            instances.live -= 1;
            instances.lost += 1;
            drop(instances);
            self.returned.notify_one();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Instances> {
        self.instances.lock().unwrap_or_else(|e| e.into_inner())
    }
}
