//! Reference values from MXNet 1.9.1's Python optimizers and schedules (`mx.optimizer.SGD`,
//! `mx.optimizer.Adam`, `mx.lr_scheduler.*`, `get_updater`).
#![allow(clippy::excessive_precision)] // MXNet's printed values, kept as printed.

use super::*;
use crate::DType;
use crate::nd::NDArray;

const W: [f64; 6] = [1.0, -2.0, 3.0, 0.5, -0.25, 1.5];
const G: [f64; 6] = [0.5, 3.0, -4.0, 0.1, -0.7, 2.2];

fn array(values: &[f64], dtype: DType) -> NDArray {
    match dtype {
        DType::F32 => {
            NDArray::from_vec(&[2, 3], values.iter().map(|&v| v as f32).collect()).unwrap()
        }
        _ => NDArray::from_vec(&[2, 3], values.to_vec()).unwrap(),
    }
}

fn values(a: &NDArray) -> Vec<f64> {
    match a.dtype() {
        DType::F32 => a
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
        _ => a.to_vec::<f64>().unwrap(),
    }
}

/// The gradient of step `k` in the reference runs: `G·(1 + k/2)·(−1)^k`.
fn grad(k: usize, dtype: DType) -> NDArray {
    let sign = if k.is_multiple_of(2) { 1.0 } else { -1.0 };
    let g: Vec<f64> = G
        .iter()
        .map(|g| g * (1.0 + 0.5 * k as f64) * sign)
        .collect();
    array(&g, dtype)
}

/// Runs `steps` updates of index 0 from `W`; compares every step with MXNet within `ulps` units
/// in the last place of the dtype (0: bit for bit). Returns the state.
fn check(opt: &mut dyn Optimizer, dtype: DType, want: &[[f64; 6]], ulps: f64) -> State {
    let w = array(&W, dtype);
    let state = opt.create_state(0, &w).unwrap();
    for (k, want) in want.iter().enumerate() {
        opt.update(0, &w, &grad(k, dtype), &state).unwrap();
        assert_close(
            &values(&w),
            want,
            dtype,
            ulps,
            &format!("{opt:?} {dtype} step {k}"),
        );
    }
    state
}

fn assert_close(got: &[f64], want: &[f64], dtype: DType, ulps: f64, what: &str) {
    let eps = if dtype == DType::F32 {
        f64::from(f32::EPSILON)
    } else {
        f64::EPSILON
    };
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = ulps * eps * w.abs();
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g:e}, MXNet {w:e}");
    }
}

#[test]
#[rustfmt::skip]
fn sgd_with_momentum_schedule_and_clipping_matches_mxnet() {
    // SGD(learning_rate=0.1, momentum=0.9, wd=0.01, rescale_grad=0.5, clip_gradient=1.0,
    //     lr_scheduler=FactorScheduler(step=2, factor=0.5))
    let make = || {
        Sgd::new()
            .learning_rate(0.1)
            .momentum(0.9)
            .wd(0.01)
            .rescale_grad(0.5)
            .clip_gradient(1.0)
            .lr_scheduler(FactorScheduler::new(2, 0.5).unwrap())
    };
    let mom = check(
        &mut make(),
        DType::F32,
        &[
            [0.9739999771118164, -2.0980000495910645, 3.0970001220703125, 0.4945000112056732, -0.2147499918937683, 1.3984999656677246],
            [0.9871259927749634, -2.084102153778076, 3.0812032222747803, 0.49655550718307495, -0.23531024158000946, 1.4057514667510986],
            [0.9734458327293396, -2.120551824569702, 3.115445375442505, 0.49315717816352844, -0.21869680285453796, 1.3615748882293701],
            [0.9918969869613647, -2.1022963523864746, 3.094705581665039, 0.49610209465026855, -0.24738536775112152, 1.3711352348327637],
        ],
        0.0,
    );
    assert_close(
        &values(&mom[0]),
        &[0.018451131880283356, 0.018255505710840225, -0.020739832893013954, 0.0029449257999658585, -0.02868855930864811, 0.00956033542752266],
        DType::F32,
        0.0,
        "mom",
    );
    let mom = check(
        &mut make(),
        DType::F64,
        &[
            [0.9739999996349216, -2.0980000015050173, 3.097000001512468, 0.4944999999292195, -0.214749999480322, 1.3984999985210598],
            [0.9871260004926548, -2.084101999047041, 3.0812029990924747, 0.49655550011216104, -0.23531025063746797, 1.4057515011119768],
            [0.9734458375825683, -2.120551746919515, 3.115445096548101, 0.49315717240508944, -0.21869682054272196, 1.3615749767805356],
            [0.9918969688401474, -2.1022962425250937, 3.094705260160043, 0.4961020990585143, -0.24738538609601476, 1.371135319197229],
        ],
        0.0,
    );
    assert_close(
        &values(&mom[0]),
        &[0.018451131257579117, 0.018255504394421355, -0.0207398363880579, 0.00294492665342486, -0.02868856555329279, 0.00956034241669345],
        DType::F64,
        0.0,
        "mom",
    );
}

#[test]
#[rustfmt::skip]
fn sgd_without_momentum_matches_mxnet() {
    let mut sgd = Sgd::new().learning_rate(0.1).rescale_grad(2.0);
    assert!(
        sgd.create_state(0, &array(&W, DType::F32))
            .unwrap()
            .is_empty(),
        "no state without momentum"
    );
    check(
        &mut sgd,
        DType::F32,
        &[
            [0.8999999761581421, -2.5999999046325684, 3.799999952316284, 0.47999998927116394, -0.10999999940395355, 1.059999942779541],
            [1.0499999523162842, -1.6999998092651367, 2.5999999046325684, 0.5099999904632568, -0.3199999928474426, 1.7200000286102295],
            [0.8499999642372131, -2.8999998569488525, 4.199999809265137, 0.4699999988079071, -0.03999999165534973, 0.8399999737739563],
            [1.0999999046325684, -1.3999998569488525, 2.1999998092651367, 0.5199999809265137, -0.38999998569488525, 1.940000057220459],
        ],
        0.0,
    );
    check(
        &mut Sgd::new().learning_rate(0.1).rescale_grad(2.0),
        DType::F64,
        &[
            [0.8999999985098839, -2.6000000089406967, 3.800000011920929, 0.47999999970197677, -0.10999999791383744, 1.0599999934434892],
            [1.050000000745058, -1.6999999955296516, 2.5999999940395355, 0.5100000001490116, -0.32000000104308124, 1.7200000032782556],
            [0.8499999977648258, -2.900000013411045, 4.200000017881393, 0.4699999995529651, -0.039999996870756116, 0.8399999901652337],
            [1.1000000014901161, -1.3999999910593033, 2.199999988079071, 0.5200000002980232, -0.39000000208616253, 1.940000006556511],
        ],
        0.0,
    );
    // With weight decay too (MXNet's Python SGD updates through multi_sgd_update).
    check(
        &mut Sgd::new().learning_rate(0.1).wd(0.05),
        DType::F32,
        &[
            [0.9449999928474426, -2.2899999618530273, 3.384999990463257, 0.48750001192092896, -0.17875000834465027, 1.2725000381469727],
            [1.015275001525879, -1.8285499811172485, 2.7680749893188477, 0.5000625252723694, -0.2828562557697296, 1.596137523651123],
            [0.9101986289024353, -2.419407367706299, 3.554234504699707, 0.47756221890449524, -0.1414419710636139, 1.1481568813323975],
            [1.0306476354599, -1.6573102474212646, 2.5364632606506348, 0.5001744031906128, -0.31573474407196045, 1.6924161911010742],
        ],
        8.0,
    );
    check(
        &mut Sgd::new().learning_rate(0.1).wd(0.05),
        DType::F64,
        &[
            [0.9449999991059304, -2.290000004172325, 3.3850000055134295, 0.48749999977648256, -0.1787499989196658, 1.272499996498227],
            [1.0152750000871718, -1.8285499971047043, 2.7680749960407613, 0.5000624999284744, -0.28285625046305357, 1.596137501243502],
            [0.910198623445332, -2.4194072557874025, 3.554234632569011, 0.47756218705629366, -0.14144196708242687, 1.1481568069429304],
            [1.0306476320551203, -1.6573102079720747, 2.5364634439753826, 0.5001743764223789, -0.31573475983364147, 1.6924160309327658],
        ],
        8.0,
    );
}

#[test]
#[rustfmt::skip]
fn adam_matches_mxnet_with_bias_correction() {
    // Adam(learning_rate=0.01, wd=0.1, rescale_grad=0.5, clip_gradient=0.8)
    let make = || {
        Adam::new()
            .learning_rate(0.01)
            .wd(0.1)
            .rescale_grad(0.5)
            .clip_gradient(0.8)
    };
    let state = check(
        &mut make(),
        DType::F32,
        &[
            [0.9899999499320984, -2.009999990463257, 3.009999990463257, 0.4899999499320984, -0.2399999350309372, 1.4899998903274536],
            [0.9893486499786377, -2.0094735622406006, 3.0094735622406006, 0.48538854718208313, -0.24194446206092834, 1.4905261993408203],
            [0.983922004699707, -2.012831449508667, 3.012831449508667, 0.4781084954738617, -0.23809194564819336, 1.4871681928634644],
            [0.9836418628692627, -2.0123050212860107, 3.0123050212860107, 0.47490590810775757, -0.23940004408359528, 1.487694501876831],
        ],
        0.0,
    );
    assert_close(
        &values(&state[0]),
        &[0.0044023580849170685, -0.01448000967502594, 0.01448000967502594, 0.010833583772182465, 0.028066013008356094, -0.01448000967502594],
        DType::F32,
        0.0,
        "mean",
    );
    assert_close(
        &values(&state[1]),
        &[0.0008338259067386389, 0.002556129824370146, 0.002556129824370146, 3.864407699438743e-05, 0.001554615912027657, 0.002556129824370146],
        DType::F32,
        0.0,
        "var",
    );
    let state = check(
        &mut make(),
        DType::F64,
        &[
            [0.9899999423740197, -2.010000062708272, 3.010000062708272, 0.48999996496192105, -0.23999994177167425, 1.4899999372917276],
            [0.9893486423824966, -2.0094737434491483, 3.0094737434491483, 0.48538855754376903, -0.24194447548821207, 1.4905262565508515],
            [0.9839219897724718, -2.0128316985500265, 3.0128316985500265, 0.4781084920043834, -0.2380919566163042, 1.4871683014499733],
            [0.9836418211912827, -2.012305379254835, 3.012305379254835, 0.4749058968181168, -0.2394000569667117, 1.4876946207451645],
        ],
        0.0,
    );
    assert_close(
        &values(&state[0]),
        &[0.004402356498161279, -0.014480006777048873, 0.014480006777048873, 0.010833583664931694, 0.028066009736377115, -0.014480006777048873],
        DType::F64,
        0.0,
        "mean",
    );
    assert_close(
        &values(&state[1]),
        &[0.0008338258958859406, 0.0025561297753317006, 0.0025561297753317006, 3.86440750948635e-05, 0.0015546159646448892, 0.0025561297753317006],
        DType::F64,
        0.0,
        "var",
    );

    // Defaults: learning rate 0.001.
    check(
        &mut Adam::new(),
        DType::F32,
        &[
            [0.9990000128746033, -2.000999927520752, 3.000999927520752, 0.4989999830722809, -0.24899999797344208, 1.4989999532699585],
            [0.9992477297782898, -2.0007522106170654, 3.0007522106170654, 0.4992476999759674, -0.2492476999759674, 1.499247670173645],
            [0.9989012479782104, -2.0010986328125, 3.0010986328125, 0.49890121817588806, -0.24890121817588806, 1.498901128768921],
            [0.9990888833999634, -2.000910997390747, 3.000910997390747, 0.4990888833999634, -0.24908888339996338, 1.4990887641906738],
        ],
        0.0,
    );
    check(
        &mut Adam::new(),
        DType::F64,
        &[
            [0.9989999939847535, -2.0010000065422995, 3.001000006568652, 0.4989999965145991, -0.24899999380404972, 1.4989999934960319],
            [0.9992476973733798, -2.000752303081245, 3.000752303103976, 0.49924769955556997, -0.24924769721750864, 1.4992476969518191],
            [0.9989012094408644, -2.0010987910816023, 3.0010987911077254, 0.49890121194869524, -0.24890120926173312, 1.4989012089563958],
            [0.9990888720178638, -2.0009111284776724, 3.0009111285024486, 0.4990888743964275, -0.2490888718479659, 1.4990888715583672],
        ],
        0.0,
    );
}

#[test]
fn multipliers_follow_param_names() {
    // SGD(learning_rate=0.1, wd=0.01, param_idx2name={...}): no decay unless the name ends in
    // _weight or _gamma.
    let names = [
        (0, "fc_weight"),
        (1, "fc_bias"),
        (2, "bn_gamma"),
        (3, "bn_beta"),
        (4, "bn_moving_mean"),
        (5, "weight"),
    ];
    let mut sgd = Sgd::new().learning_rate(0.1).wd(0.01).param_names(names);
    let core = sgd.core_mut();
    let wds: Vec<f64> = (0..7).map(|i| core.wd_for(i)).collect();
    assert_eq!(wds, [0.01, 0.0, 0.01, 0.0, 0.0, 0.0, 0.01]);
    let lrs: Vec<f64> = (0..7).map(|i| core.lr_for(i)).collect();
    assert_eq!(lrs, [0.1; 7]);
    // set_lr_mult({'fc_bias': 2.0, 0: 0.5}); set_wd_mult({'fc_weight': 3.0, 3: 1.0})
    core.set_lr_mult([("fc_bias".into(), 2.0), (0.into(), 0.5)]);
    core.set_wd_mult([("fc_weight".into(), 3.0), (3.into(), 1.0)]);
    let wds: Vec<f64> = (0..7).map(|i| core.wd_for(i)).collect();
    assert_eq!(wds, [0.03, 0.0, 0.01, 0.01, 0.0, 0.0, 0.01]);
    let lrs: Vec<f64> = (0..7).map(|i| core.lr_for(i)).collect();
    assert_eq!(lrs, [0.05, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]);
    assert_eq!(core.param_names()[&3], "bn_beta");
}

#[test]
fn updater_counts_per_index_and_drives_the_schedule() {
    // SGD(learning_rate=1.0, begin_num_update=5,
    //     lr_scheduler=MultiFactorScheduler(step=[6, 8], factor=0.5)) through get_updater.
    let mut sgd = Sgd::new()
        .learning_rate(1.0)
        .lr_scheduler(MultiFactorScheduler::new(vec![6, 8], 0.5).unwrap());
    sgd.core_mut().set_begin_num_update(5);
    let mut updater = get_updater(sgd);
    let w0 = NDArray::from_vec(&[1], vec![0.0f32]).unwrap();
    let w1 = NDArray::from_vec(&[1], vec![0.0f32]).unwrap();
    let g = NDArray::from_vec(&[1], vec![1.0f32]).unwrap();
    let mut counts = Vec::new();
    for k in [0, 0, 1, 0, 1, 1, 1, 0] {
        updater
            .update(k, &g, if k == 0 { &w0 } else { &w1 })
            .unwrap();
        let core = updater.optimizer().core();
        counts.push((core.num_update(), core.update_count(k).unwrap()));
    }
    assert_eq!(
        counts,
        [
            (6, 6),
            (7, 7),
            (7, 6),
            (8, 8),
            (8, 7),
            (8, 8),
            (9, 9),
            (9, 9)
        ]
    );
    assert_eq!(w0.to_scalar::<f32>().unwrap(), -2.25);
    assert_eq!(w1.to_scalar::<f32>().unwrap(), -1.75);
    assert_eq!(updater.states().len(), 2);
    assert!(updater.states()[&0].is_empty());

    // Adam's bias correction counts per index: Adam(learning_rate=0.1), keys 0, 0, 0, 1.
    let mut updater = Updater::new(Adam::new().learning_rate(0.1));
    let w0 = NDArray::from_vec(&[1], vec![1.0f64]).unwrap();
    let w1 = NDArray::from_vec(&[1], vec![1.0f64]).unwrap();
    let g = NDArray::from_vec(&[1], vec![0.5f64]).unwrap();
    for k in [0, 0, 0, 1] {
        updater
            .update(k, &g, if k == 0 { &w0 } else { &w1 })
            .unwrap();
    }
    assert_eq!(w0.to_scalar::<f64>().unwrap(), 0.6999981591468986);
    assert_eq!(w1.to_scalar::<f64>().unwrap(), 0.8999994010523241);
}

#[test]
#[rustfmt::skip]
fn schedules_match_mxnet() {
    let counts = [
        0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 19, 20, 21, 25, 29, 30, 31, 40, 55, 100,
    ];
    // FactorScheduler(step=10, factor=0.5, stop_factor_lr=1e-3, base_lr=0.1)
    let mut s = FactorScheduler::new(10, 0.5)
        .unwrap()
        .stop_factor_lr(1e-3)
        .base_lr(0.1);
    let lrs: Vec<f64> = counts.iter().map(|&n| s.lr(n)).collect();
    assert_eq!(
        lrs,
        [
            0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025,
            0.025, 0.0125, 0.0125, 0.003125, 0.001
        ]
    );
    // MultiFactorScheduler(step=[5, 10, 20], factor=0.1, base_lr=1.0)
    let mut s = MultiFactorScheduler::new(vec![5, 10, 20], 0.1)
        .unwrap()
        .base_lr(1.0);
    let lrs: Vec<f64> = counts.iter().map(|&n| s.lr(n)).collect();
    assert_eq!(
        lrs,
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002]
    );
    assert_eq!(s.count(), 20);

    let counts = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20];
    // FactorScheduler(step=3, factor=0.9, base_lr=1.0, warmup_steps=5, warmup_begin_lr=0.2)
    let mut s = FactorScheduler::new(3, 0.9)
        .unwrap()
        .base_lr(1.0)
        .warmup(5, 0.2, WarmupMode::Linear)
        .unwrap();
    let lrs: Vec<f64> = counts.iter().map(|&n| s.lr(n)).collect();
    assert_eq!(
        lrs,
        [0.2, 0.36, 0.52, 0.6800000000000002, 0.8400000000000001, 0.9, 0.9, 0.81, 0.81, 0.81, 0.7290000000000001, 0.7290000000000001, 0.7290000000000001, 0.5314410000000002]
    );
    // MultiFactorScheduler(step=[3, 7], factor=0.5, base_lr=0.4, warmup_steps=3,
    //                      warmup_begin_lr=0.1, warmup_mode='constant')
    let mut s = MultiFactorScheduler::new(vec![3, 7], 0.5)
        .unwrap()
        .base_lr(0.4)
        .warmup(3, 0.1, WarmupMode::Constant)
        .unwrap();
    let lrs: Vec<f64> = counts.iter().map(|&n| s.lr(n)).collect();
    assert_eq!(
        lrs,
        [
            0.1, 0.1, 0.1, 0.4, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1
        ]
    );
    // PolyScheduler(max_update=10, base_lr=0.5, pwr=2, final_lr=0.01, warmup_steps=2)
    let mut s = PolyScheduler::new(10, 0.5, 2.0, 0.01)
        .unwrap()
        .warmup(2, 0.0, WarmupMode::Linear)
        .unwrap();
    let lrs: Vec<f64> = counts.iter().map(|&n| s.lr(n)).collect();
    assert_eq!(
        lrs,
        [
            0.0, 0.25, 0.5, 0.38515625, 0.285625, 0.20140625, 0.1325, 0.07890625, 0.040625,
            0.01765625, 0.01, 0.01, 0.01, 0.01
        ]
    );
    // CosineScheduler(max_update=10, base_lr=0.5, final_lr=0.01, warmup_steps=2,
    //                 warmup_begin_lr=0.1)
    let mut s = CosineScheduler::new(10, 0.5, 0.01)
        .unwrap()
        .warmup(2, 0.1, WarmupMode::Linear)
        .unwrap();
    let lrs: Vec<f64> = counts.iter().map(|&n| s.lr(n)).collect();
    assert_eq!(
        lrs,
        [0.1, 0.30000000000000004, 0.5, 0.48135048546526527, 0.4282411613907041, 0.348757440929447, 0.255, 0.16124255907055302, 0.08175883860929586, 0.02864951453473475, 0.01, 0.01, 0.01, 0.01]
    );

    // A later smaller count keeps the lowered rate (the schedule's state), as in MXNet.
    let mut s = FactorScheduler::new(10, 0.5).unwrap().base_lr(0.1);
    let lrs: Vec<f64> = [35, 5, 36, 100].iter().map(|&n| s.lr(n)).collect();
    assert_eq!(lrs, [0.0125, 0.0125, 0.0125, 0.0001953125]);
}

#[test]
fn invalid_settings_are_errors() {
    assert!(FactorScheduler::new(0, 0.5).is_err());
    assert!(FactorScheduler::new(1, 1.5).is_err());
    assert!(MultiFactorScheduler::new(vec![], 0.5).is_err());
    assert!(MultiFactorScheduler::new(vec![5, 5], 0.5).is_err());
    assert!(MultiFactorScheduler::new(vec![0, 5], 0.5).is_err());
    assert!(
        FactorScheduler::new(2, 0.5)
            .unwrap()
            .base_lr(0.1)
            .warmup(3, 0.2, WarmupMode::Linear)
            .is_err()
    );
    assert!(PolyScheduler::new(0, 0.1, 2.0, 0.0).is_err());
    assert!(CosineScheduler::new(0, 0.1, 0.0).is_err());

    let mut sgd = Sgd::new().lr_scheduler(FactorScheduler::new(2, 0.5).unwrap());
    let err = sgd.core_mut().set_learning_rate(0.5).unwrap_err();
    assert!(err.to_string().contains("schedule"), "{err}");
    // Without a learning rate the schedule's base rate (0.01) is used.
    assert_eq!(sgd.core_mut().learning_rate(), 0.01);
    let mut sgd = Sgd::new()
        .learning_rate(0.3)
        .lr_scheduler(FactorScheduler::new(2, 0.5).unwrap());
    assert_eq!(
        sgd.core_mut().learning_rate(),
        0.3,
        "learning_rate overrides the schedule's base"
    );
    assert_eq!(sgd.core().lr_scheduler().unwrap().base_lr(), 0.3);

    let mut adam = Adam::new();
    let w = NDArray::from_vec(&[1], vec![1.0f32]).unwrap();
    let err = adam.update(0, &w, &w, &Vec::new()).unwrap_err();
    assert!(err.to_string().contains("mean, var"), "{err}");
    let mut sgd = Sgd::new().momentum(0.9);
    let state = sgd.create_state(0, &w).unwrap();
    let bad = NDArray::from_vec(&[2], vec![1.0f32, 2.0]).unwrap();
    assert!(sgd.update(0, &w, &bad, &state).is_err(), "shape mismatch");

    assert!(create("SGD").is_ok() && create("adam").is_ok());
    assert!(
        create("rmsprop")
            .unwrap_err()
            .to_string()
            .contains("rmsprop")
    );
    assert_eq!(create("sgd").unwrap().core().wd, 0.0);
}

#[test]
#[rustfmt::skip]
fn sgd_rounds_like_mxnet_python_not_like_sgd_update() {
    // Values where multi_sgd_update's w + (−lr·wd·w − lr·g), which MXNet's Python SGD uses,
    // and sgd_update's (1 − lr·wd)·w − lr·g differ in the last bit.
    let w = [1.4542734622955322f32, 0.12167501449584961, 0.3336743414402008, -0.8540957570075989];
    let g = [-1.3585224151611328f32, 0.003443938447162509, 1.5337039232254028, 1.0115554332733154];
    let mxnet_sgd = [1.5828543901443481f32, 0.12072224915027618, 0.17863556742668152, -0.9509808421134949];
    let mxnet_sgd_update = [1.5828542709350586f32, 0.12072224169969559, 0.1786355823278427, -0.9509807825088501];
    let weight = NDArray::from_vec(&[4], w.to_vec()).unwrap();
    let grad = NDArray::from_vec(&[4], g.to_vec()).unwrap();
    let mut sgd = Sgd::new().learning_rate(0.1).wd(0.05);
    sgd.update(0, &weight, &grad, &Vec::new()).unwrap();
    assert_eq!(weight.to_vec::<f32>().unwrap(), mxnet_sgd);
    let direct = NDArray::from_vec(&[4], w.to_vec()).unwrap();
    crate::nd::invoke_into(
        "sgd_update",
        &[&direct, &grad],
        &[("lr", "0.1"), ("wd", "0.05")],
        &[&direct],
    )
    .unwrap();
    assert_eq!(direct.to_vec::<f32>().unwrap(), mxnet_sgd_update);
}

#[test]
fn updater_aggregates_like_mxnet() {
    // SGD(learning_rate=1.0, lr_scheduler=FactorScheduler(step=1, factor=0.5)) through
    // get_updater: updater([4]) twice, then updater([0, 4, 1, 5, 2, 3, 6]) with key 5 float64.
    // MXNet updates float32 keys [0, 4, 1, 2] in one call, counting all four first: every
    // weight gets the rate of update count 3.
    let sgd = Sgd::new()
        .learning_rate(1.0)
        .lr_scheduler(FactorScheduler::new(1, 0.5).unwrap());
    let mut updater = Updater::new(sgd);
    let weights: Vec<NDArray> = (0..7)
        .map(|k| {
            if k == 5 {
                NDArray::from_vec(&[1], vec![0.0f64]).unwrap()
            } else {
                NDArray::from_vec(&[1], vec![0.0f32]).unwrap()
            }
        })
        .collect();
    let g32 = NDArray::from_vec(&[1], vec![1.0f32]).unwrap();
    let g64 = NDArray::from_vec(&[1], vec![1.0f64]).unwrap();
    let call = |updater: &mut Updater, keys: &[usize]| {
        let items: Vec<(usize, &NDArray, &NDArray)> = keys
            .iter()
            .map(|&k| (k, if k == 5 { &g64 } else { &g32 }, &weights[k]))
            .collect();
        updater.update_all(&items).unwrap();
    };
    call(&mut updater, &[4]);
    call(&mut updater, &[4]);
    call(&mut updater, &[0, 4, 1, 5, 2, 3, 6]);
    let got: Vec<f64> = weights.iter().map(|w| values(w)[0]).collect();
    assert_eq!(got, [-0.25, -0.25, -0.25, -0.25, -1.75, -0.25, -0.25]);
    assert_eq!(updater.optimizer().core().num_update(), 3);

    // Without aggregation the first key is updated before the others are counted.
    let sgd = Sgd::new()
        .learning_rate(1.0)
        .lr_scheduler(FactorScheduler::new(1, 0.5).unwrap())
        .aggregate_num(0);
    let mut updater = Updater::new(sgd);
    for w in &weights {
        w.assign_scalar(0.0).unwrap();
    }
    call(&mut updater, &[4]);
    call(&mut updater, &[4]);
    call(&mut updater, &[0, 4, 1]);
    assert_eq!(values(&weights[0])[0], -0.5);
    assert_eq!(values(&weights[1])[0], -0.25);
}
