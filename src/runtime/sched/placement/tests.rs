//! Placement decisions against a schedule worked out by hand, on a small graph with fixed
//! kernel and transfer times.

use std::sync::Arc;

use super::*;
use crate::runtime::footprint::Footprint;
use crate::runtime::graph::access::ObjectRef;
use crate::runtime::graph::{DataObject, Geometry, Mode};

fn access(object: &Arc<DataObject>, mode: Mode) -> AccessRecord {
    AccessRecord {
        object: ObjectRef::Shared(object.clone()),
        mode,
        footprint: Footprint::Whole,
        geometry: Geometry {
            offset: 0,
            ndim: 2,
            len: [4, 4],
            stride: [1, 4],
            elem_size: 8,
        },
    }
}

/// A tile kernel `k` of no flops on `accesses`, target any processor, priority 0.
fn kernel_task<'a>(accesses: &'a [AccessRecord]) -> TaskInfo<'a> {
    TaskInfo {
        name: "k",
        priority: 0,
        flops: 0.0,
        target: Target::any(),
        kernel: true,
        follows_data: false,
        cuda: false,
        accesses,
    }
}

/// The forecast of `object`: valid in `slots` from `ready` (to within the milliseconds the
/// test itself takes).
#[track_caller]
fn assert_plan(object: &DataObject, slots: u8, ready: f64) {
    let (s, r) = object.plan();
    assert!(
        s == slots && (r - ready).abs() < 0.05,
        "plan {:?}, want ({slots}, {ready})",
        (s, r)
    );
}

/// Two seconds between the host and the device, none within a space.
fn two_seconds(from: usize, to: usize, _bytes: usize) -> f64 {
    if from == to {
        0.0
    } else {
        2.0
    }
}

#[test]
fn earliest_finish_time_matches_the_schedule_worked_out_by_hand() {
    // Two CPU workers and one device; kernel `k` takes 4 s on a CPU, 1 s on the device;
    // a copy between them takes 2 s. The test runs in microseconds: "now" stays ~0.
    let processors = [
        Processor::cpu(0),
        Processor::cpu(1),
        Processor::device(2, ProcessorKind::Simulated, 0),
    ];
    let mut eft = Eft::new(&processors, CostModel::new(1e9, 1e9, 1.0));
    eft.transfer = two_seconds;
    let probe = Arc::new(DataObject::for_tests(4));
    let shape = cost::shape_key(&[access(&probe, Mode::Write)]);
    let two = cost::shape_key(&[access(&probe, Mode::Write), access(&probe, Mode::Read)]);
    for key in [shape, two] {
        eft.cost.set(("k", key, ProcessorKind::Cpu), 4.0);
        eft.cost.set(("k", key, ProcessorKind::Simulated), 1.0);
    }
    let objects: Vec<Arc<DataObject>> = (0..5).map(|_| Arc::new(DataObject::for_tests(4))).collect();
    let place = |accesses: &[AccessRecord], kernel: bool| {
        let info = TaskInfo {
            kernel,
            ..kernel_task(accesses)
        };
        eft.place(&info, &processors)
    };
    let device = Placed::on(&processors[2]);
    // t1..t3 write fresh objects: the device finishes them at 1, 2, 3 (its backlog grows
    // by 1 s each), before a CPU could (4).
    for (i, finish) in [(0, 1.0), (1, 2.0), (2, 3.0)] {
        let d = place(&[access(&objects[i], Mode::Write)], true);
        assert_eq!((d.placed, d.estimate), (device, 1.0), "t{}", i + 1);
        assert_plan(&objects[i], 1 << 2, finish);
    }
    // t4: the device would finish at 4, a CPU at 4 too: the tie goes to the CPUs.
    let d = place(&[access(&objects[3], Mode::Write)], true);
    assert_eq!((d.placed, d.estimate), (Placed::CPU, 4.0));
    // t5 updates object 4 (valid on the host) and reads object 0 (on the device from 1):
    // on a CPU, free at 4/2 = 2, object 0 arrives at 1 + 2 = 3, finish 3 + 4 = 7; on the
    // device, free at 3, object 4 arrives at 0 + 2 = 2, finish 3 + 1 = 4.
    let d = place(
        &[
            access(&objects[4], Mode::ReadWrite),
            access(&objects[0], Mode::Read),
        ],
        true,
    );
    assert_eq!(d.placed, device);
    assert_plan(&objects[4], 1 << 2, 4.0);
    assert_eq!(objects[0].plan().0, 1 << 2, "a read adds a space, here the same");
    // A closure (not a kernel) runs on a CPU whatever the estimates; it reads object 4,
    // which the host will hold too.
    let d = place(&[access(&objects[4], Mode::Read)], false);
    assert_eq!(d.placed, Placed::CPU);
    assert_eq!(objects[4].plan().0, 1 << 2 | 1);
    // Finished tasks leave the backlogs: with all four device tasks done, a new one
    // finishes there at 1 again.
    for i in 0..4 {
        let info = kernel_task(&[]);
        let took = std::time::Duration::from_millis(900 + i);
        eft.finished(
            &info,
            Decision {
                placed: device,
                estimate: 1.0,
            },
            took,
        );
    }
    let fresh = Arc::new(DataObject::for_tests(4));
    let d = place(&[access(&fresh, Mode::Write)], true);
    assert_eq!(d.placed, device);
    assert_plan(&fresh, 1 << 2, 1.0);
    // A target narrows the choice: pinned to the CPUs, the same task goes there.
    let accesses = [access(&fresh, Mode::Write)];
    let info = TaskInfo {
        target: Target::cpu(),
        ..kernel_task(&accesses)
    };
    assert_eq!(eft.place(&info, &processors).placed, Placed::CPU);
    // The measured times are the figure for `k` with no operands now (a running mean
    // from 0.9 s).
    let k = eft
        .cost
        .kernel(("k", cost::shape_key(&[]), ProcessorKind::Simulated), 0.0, 0);
    assert!((0.9..1.0).contains(&k), "{k}");
}

#[test]
fn only_work_of_a_tasks_priority_or_higher_is_ahead_of_it() {
    // One CPU worker and one device; `k` takes 4 s on the CPU, 1 s on the device.
    let processors = [
        Processor::cpu(0),
        Processor::device(1, ProcessorKind::Simulated, 0),
    ];
    let eft = Eft::new(&processors, CostModel::new(1e9, 1e9, 1.0));
    let probe = Arc::new(DataObject::for_tests(4));
    let shape = cost::shape_key(&[access(&probe, Mode::Write)]);
    eft.cost.set(("k", shape, ProcessorKind::Cpu), 4.0);
    eft.cost.set(("k", shape, ProcessorKind::Simulated), 1.0);
    let place = |priority: i32| {
        let object = Arc::new(DataObject::for_tests(4));
        let accesses = [access(&object, Mode::Write)];
        let info = TaskInfo {
            priority,
            ..kernel_task(&accesses)
        };
        (eft.place(&info, &processors).placed, object.plan().1)
    };
    let device = Placed::on(&processors[1]);
    // Five low-priority tasks: the device finishes the first three at 1, 2, 3; the fourth
    // ties at 4 with the CPU and goes there; the fifth finishes at 4 on the device.
    for (i, want) in [device, device, device, Placed::CPU, device]
        .into_iter()
        .enumerate()
    {
        assert_eq!(place(0).0, want, "low-priority task {i}");
    }
    // A high-priority task jumps the device's queue: nothing of its priority is ahead of
    // it there, so it finishes at 1 on the device.
    let (placed, ready) = place(10);
    assert_eq!(placed, device);
    assert!((ready - 1.0).abs() < 0.05, "finishes at {ready}");
    // The next low-priority one waits for all five seconds of work ahead of it there, and
    // finishes at 6 (on the CPU it would at 8).
    let (placed, ready) = place(0);
    assert_eq!(placed, device);
    assert!((ready - 6.0).abs() < 0.05, "finishes at {ready}");
}

#[test]
fn round_robin_and_device_first_place_kernels_as_they_say() {
    let processors = [
        Processor::cpu(0),
        Processor::cpu(1),
        Processor::device(2, ProcessorKind::Simulated, 0),
    ];
    let info = |kernel| TaskInfo {
        kernel,
        ..kernel_task(&[])
    };
    let rr = RoundRobin::default();
    let kinds: Vec<ProcessorKind> = (0..6)
        .map(|_| rr.place(&info(true), &processors).placed.kind)
        .collect();
    use ProcessorKind::{Cpu, Simulated};
    assert_eq!(kinds, [Cpu, Cpu, Simulated, Cpu, Cpu, Simulated]);
    assert_eq!(rr.place(&info(false), &processors).placed, Placed::CPU);
    assert_eq!(DeviceFirst.place(&info(true), &processors).placed.kind, Simulated);
    assert_eq!(DeviceFirst.place(&info(false), &processors).placed, Placed::CPU);
}

#[test]
fn a_cuda_device_takes_only_kernels_with_a_cuda_implementation() {
    let processors = [Processor::cpu(0), Processor::device(1, ProcessorKind::Cuda, 0)];
    let info = |kernel, cuda, target| TaskInfo {
        target,
        kernel,
        cuda,
        ..kernel_task(&[])
    };
    let device = Placed::on(&processors[1]);
    for policy in [&DeviceFirst as &dyn Placement, &RoundRobin::default()] {
        // Without a CUDA implementation, a kernel stays on the CPUs, even pinned there
        // (it then fails with NoProcessor when it runs: worker.rs).
        assert_eq!(
            policy
                .place(&info(true, false, Target::any()), &processors)
                .placed,
            Placed::CPU
        );
        assert_eq!(
            policy
                .place(&info(true, false, Target::cuda(0)), &processors)
                .placed,
            Placed::CPU
        );
        assert_eq!(
            policy
                .place(&info(false, true, Target::any()), &processors)
                .placed,
            Placed::CPU
        );
    }
    assert_eq!(
        DeviceFirst
            .place(&info(true, true, Target::any()), &processors)
            .placed,
        device
    );
    assert_eq!(
        DeviceFirst
            .place(&info(true, true, Target::cuda(0)), &processors)
            .placed,
        device
    );
}

#[test]
fn a_kernel_in_an_on_scope_that_cannot_run_there_goes_to_the_cpus() {
    let processors = [
        Processor::cpu(0),
        Processor::device(1, ProcessorKind::Cuda, 0),
        Processor::device(2, ProcessorKind::Simulated, 1),
    ];
    let scoped = |target, cuda| scoped_target(target, (true, cuda), &processors);
    // A kernel with a CUDA body keeps a CUDA target; one without goes to the CPUs.
    assert_eq!(scoped(Target::cuda(0), true), Target::cuda(0));
    assert_eq!(scoped(Target::cuda(0), false), Target::cpu());
    assert_eq!(scoped(Target::device(0), false), Target::cpu());
    // A simulated device runs every kernel; the CPUs and `any` are kept as they are.
    assert_eq!(scoped(Target::device(1), false), Target::device(1));
    assert_eq!(scoped(Target::cpu(), false), Target::cpu());
    assert_eq!(scoped(Target::any(), false), Target::any());
}

#[test]
fn a_task_that_only_orders_after_its_data_runs_where_the_data_will_be() {
    let processors = [
        Processor::cpu(0),
        Processor::device(1, ProcessorKind::Simulated, 0),
    ];
    let (on_device, on_host) = (
        Arc::new(DataObject::for_tests(4)),
        Arc::new(DataObject::for_tests(4)),
    );
    on_device.set_plan(1 << processors[1].memory.index(), 0.0);
    for policy in [&DeviceFirst as &dyn Placement, &RoundRobin::default(), &CpuOnly] {
        for (object, want) in [(&on_device, Placed::on(&processors[1])), (&on_host, Placed::CPU)] {
            let accesses = [access(object, Mode::Read)];
            let info = TaskInfo {
                follows_data: true,
                ..kernel_task(&accesses)
            };
            assert_eq!(decide(policy, &info, &processors).placed, want, "{policy:?}");
        }
    }
}
