//! The coefficient functionals of a layer of `K` neurons with decorrelation (MODEL.md §7):
//! the drive `g` (`p × K`), the self term `G_0` and the noise `V` (`K × K`).
//!
//! # How the expectations are computed
//!
//! The loss `ℓ` is a polynomial in the one-variable functions `f`, `f'`, `f''` of the
//! pre-activations `h_{s,k}`. It is written down once as such a polynomial and
//! differentiated symbolically, so that the gradient, the Hessian and the products of two
//! gradients are sums of *monomials* `Π_v f(h_v)^a f'(h_v)^b f''(h_v)^c`, each over at most
//! four pre-activations of the pair and two of the negative sample. The negative sample is
//! independent of the pair, so every monomial splits into a pair factor and a negative
//! factor whose expectations multiply.
//!
//! Monomials over the same pre-activations form a *block*. Given the hidden variables
//! (summed over the nodes of their laws: exactly for discrete laws, by the trapezoidal rule
//! of [`crate::quadrature`] in the standardised variable for Gaussian laws, Gauss–Legendre
//! for the uniform law), a block's pre-activations are jointly Gaussian. A pivoted
//! Cholesky factor writes them as `h = μ + L w` with `w` standard normal; zero directions
//! (`σ_e = 0`, `ρ = ±1`, coinciding neurons) are dropped. The expectation is then nested
//! one-dimensional trapezoidal sums over `w_1, w_2, …`, truncated to a ball, in which each
//! pre-activation's factor is evaluated as soon as its last coordinate is fixed: the sums
//! over the monomials are contracted level by level, so the innermost loop only touches
//! the distinct tails of the monomials. When three or more coordinates are integrated,
//! the innermost one (a Gaussian smoothing of one pre-activation's factors) is read from
//! a table on a fine grid by eight-point Lagrange interpolation, which turns `N⁴` into
//! `N³` activation evaluations for the four pre-activations of the pair in `V`.
//!
//! Those four (two neurons in both views) are the bulk of the work, and when the views
//! share part of their noise (`0 < Σ_ν[1,2] < σ²`) they are done differently: given the
//! shared part the views are independent and identically distributed, so each monomial's
//! expectation is a two-dimensional sum of products of two one-view smoothings, on a grid
//! common to all hidden nodes (see [`Side::conditioned`]). That is `N²` smoothings in all
//! instead of `N³` evaluations per hidden node.

use std::cell::Cell;
use std::collections::HashMap;

use crate::law::HiddenQuadrature;
use crate::quadrature::GaussianRule;
use crate::{Activation, Coefficients, OrderParameters, Problem, QuadratureOptions};

impl Problem {
    /// `g`, `G_0` and `V` of a layer of `state.neurons` neurons with decorrelation strength
    /// `β = self.decorrelation`: the general expansion behind [`Problem::coefficients`] for
    /// `K ≥ 2`, public so that tests can compare it with the single-neuron reduction.
    pub fn layer_coefficients(
        &self,
        state: &OrderParameters,
        options: QuadratureOptions,
    ) -> Coefficients {
        self.layer_coefficients_counted(state, options).0
    }

    /// How many points the activation is evaluated at for one [`Problem::layer_coefficients`]
    /// call (default options): its cost model, for the benchmarks' reference kernel.
    pub(crate) fn layer_quadrature_evaluations(&self, state: &OrderParameters) -> usize {
        self.layer_coefficients_counted(state, QuadratureOptions::default())
            .1
    }

    /// [`Problem::layer_coefficients`] and the number of activation evaluations it took.
    fn layer_coefficients_counted(
        &self,
        state: &OrderParameters,
        options: QuadratureOptions,
    ) -> (Coefficients, usize) {
        let decorrelation = self.decorrelation;
        let k = state.neurons;
        let p = self.features();
        assert!(k >= 1, "a layer has at least one neuron");
        assert_eq!(state.overlaps.len(), p * k, "Q is p × K");
        assert_eq!(state.norm2.len(), k * k, "R is K × K");
        let variables = Variables { neurons: k };
        let loss = variables.loss(self.gamma(), decorrelation);
        let mut requests = Requests::new(variables);
        let plan = requests.plan(&loss, p, &self.noise_covariance());
        let hidden = HiddenNodes::new(self, state, options.resolution);
        let context = Context {
            activation: self.activation,
            state,
            hidden: &hidden,
            resolution: options.resolution,
            evaluations: Cell::new(0),
        };
        let (variance, shared) = (self.noise.view_variance(), self.noise.pair_covariance());
        let views = (shared > 0.0 && shared < variance).then_some(Views {
            shared,
            own: variance - shared,
        });
        let pair = requests.pair.evaluate(&context, views, |a, b| {
            self.noise_covariance()[a.view][b.view] * state.norm2[a.neuron * k + b.neuron]
        });
        let negative = requests.negative.evaluate(&context, None, |a, b| {
            variance * state.norm2[a.neuron * k + b.neuron]
        });
        let value = |terms: &[Term]| -> f64 {
            terms
                .iter()
                .map(|t| t.coefficient * pair[t.pair] * negative[t.negative])
                .sum()
        };
        let symmetric = |entries: &[Vec<Term>]| -> Vec<f64> {
            let mut out = vec![0.0; k * k];
            for a in 0..k {
                for b in a..k {
                    let v = value(&entries[a * k + b]);
                    out[a * k + b] = v;
                    out[b * k + a] = v;
                }
            }
            out
        };
        let coefficients = Coefficients {
            drive: plan.drive.iter().map(|t| value(t)).collect(),
            self_term: symmetric(&plan.self_term),
            noise: symmetric(&plan.noise),
        };
        (coefficients, context.evaluations.get())
    }

    /// `Σ_ν` over the views `1, 2, 3` (MODEL.md §1); the negative is independent of the pair.
    fn noise_covariance(&self) -> [[f64; 3]; 3] {
        let (s2, r) = (self.noise.view_variance(), self.noise.pair_covariance());
        [[s2, r, 0.0], [r, s2, 0.0], [0.0, 0.0, s2]]
    }
}

// ---------------------------------------------------------------------------------------
// The loss as a polynomial in f, f', f'' of the pre-activations
// ---------------------------------------------------------------------------------------

/// Exponents of `(f, f', f'')` in the factor of one pre-activation.
type Power = [u8; 3];

/// `Π_v f(h_v)^a f'(h_v)^b f''(h_v)^c`: variables in increasing order, no zero powers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Monomial(Vec<(usize, Power)>);

impl Monomial {
    fn of(variable: usize, power: Power) -> Monomial {
        Monomial(vec![(variable, power)])
    }

    fn times(&self, other: &Monomial) -> Monomial {
        let mut factors = self.0.clone();
        for &(v, power) in &other.0 {
            match factors.binary_search_by_key(&v, |f| f.0) {
                Ok(i) => (0..3).for_each(|e| factors[i].1[e] += power[e]),
                Err(i) => factors.insert(i, (v, power)),
            }
        }
        Monomial(factors)
    }

    /// `∂/∂h_v` by the product rule; `f'''` never arises, as `ℓ` contains `f` only and is
    /// differentiated at most twice.
    fn derivative(&self, variable: usize) -> Polynomial {
        let Ok(i) = self.0.binary_search_by_key(&variable, |f| f.0) else {
            return Polynomial::default();
        };
        let [a, b, c] = self.0[i].1;
        assert_eq!(c, 0, "f''' is not available");
        let with = |power: Power| {
            let mut factors = self.0.clone();
            if power == [0, 0, 0] {
                factors.remove(i);
            } else {
                factors[i].1 = power;
            }
            Monomial(factors)
        };
        let mut out = Polynomial::default();
        if a > 0 {
            out.0.push((f64::from(a), with([a - 1, b + 1, c])));
        }
        if b > 0 {
            out.0.push((f64::from(b), with([a, b - 1, c + 1])));
        }
        out
    }
}

/// `Σ coefficient · monomial`.
#[derive(Debug, Clone, Default)]
struct Polynomial(Vec<(f64, Monomial)>);

impl Polynomial {
    fn derivative(&self, variable: usize) -> Polynomial {
        let mut out = Polynomial::default();
        for (c, m) in &self.0 {
            out.add(*c, &m.derivative(variable));
        }
        out.simplified()
    }

    fn times(&self, other: &Polynomial) -> Polynomial {
        let mut out = Polynomial::default();
        for (a, m) in &self.0 {
            for (b, n) in &other.0 {
                out.0.push((a * b, m.times(n)));
            }
        }
        out.simplified()
    }

    /// `self += scale · other`.
    fn add(&mut self, scale: f64, other: &Polynomial) {
        self.0
            .extend(other.0.iter().map(|(c, m)| (scale * c, m.clone())));
    }

    /// Like terms merged, zero terms dropped.
    fn simplified(mut self) -> Polynomial {
        self.0.sort_by(|a, b| a.1.cmp(&b.1));
        let mut out: Vec<(f64, Monomial)> = Vec::with_capacity(self.0.len());
        for (c, m) in self.0 {
            match out.last_mut() {
                Some(last) if last.1 == m => last.0 += c,
                _ => out.push((c, m)),
            }
        }
        out.retain(|t| t.0 != 0.0);
        Polynomial(out)
    }
}

/// A pre-activation `h_{s,k}`: view `s ∈ {0, 1}` of the pair or `2` for the negative.
#[derive(Debug, Clone, Copy)]
struct Preactivation {
    view: usize,
    neuron: usize,
}

/// Numbering of the pre-activations: `s K + k` for `h_{s,k}`; the pair first, so that
/// variables below `2K` belong to the pair.
#[derive(Debug, Clone, Copy)]
struct Variables {
    neurons: usize,
}

impl Variables {
    fn index(&self, view: usize, neuron: usize) -> usize {
        view * self.neurons + neuron
    }

    fn of(&self, variable: usize) -> Preactivation {
        Preactivation {
            view: variable / self.neurons,
            neuron: variable % self.neurons,
        }
    }

    fn is_pair(&self, variable: usize) -> bool {
        variable < 2 * self.neurons
    }

    /// The other view of a pair variable: the pair's law is invariant under the exchange.
    fn swapped(&self, variable: usize) -> usize {
        (variable + self.neurons) % (2 * self.neurons)
    }

    /// `ℓ = Σ_k [−F_{1,k} F_{2,k} + γ/2 F_{3,k} (F_{1,k} + F_{2,k})] + β/2 Σ_{k≠l} F_{1,k}² F_{2,l}²`
    /// (MODEL.md §7).
    fn loss(&self, gamma: f64, beta: f64) -> Polynomial {
        let f = |view, neuron, power| Monomial::of(self.index(view, neuron), [power, 0, 0]);
        let mut loss = Polynomial::default();
        for k in 0..self.neurons {
            loss.0.push((-1.0, f(0, k, 1).times(&f(1, k, 1))));
            for view in 0..2 {
                loss.0.push((gamma / 2.0, f(2, k, 1).times(&f(view, k, 1))));
            }
            for l in (0..self.neurons).filter(|&l| l != k) {
                loss.0.push((beta / 2.0, f(0, k, 2).times(&f(1, l, 2))));
            }
        }
        loss.simplified()
    }
}

// ---------------------------------------------------------------------------------------
// From the coefficients to expectations of monomials
// ---------------------------------------------------------------------------------------

/// `coefficient · E[pair factor] · E[negative factor]`, by indices into [`Requests`].
#[derive(Debug, Clone, Copy)]
struct Term {
    coefficient: f64,
    pair: usize,
    negative: usize,
}

/// Each coefficient as a list of [`Term`]s.
struct Plan {
    drive: Vec<Vec<Term>>,
    self_term: Vec<Vec<Term>>,
    noise: Vec<Vec<Term>>,
}

/// The distinct expectations the coefficients need, on each side.
struct Requests {
    variables: Variables,
    pair: Side,
    negative: Side,
}

impl Requests {
    fn new(variables: Variables) -> Requests {
        Requests {
            variables,
            pair: Side::default(),
            negative: Side::default(),
        }
    }

    /// MODEL.md §7: the coefficients as expectations of polynomials, registered here.
    fn plan(&mut self, loss: &Polynomial, p: usize, sigma: &[[f64; 3]; 3]) -> Plan {
        let variables = self.variables;
        let k = variables.neurons;
        let index = |view, neuron| variables.index(view, neuron);
        let gradient: Vec<Polynomial> = (0..3 * k).map(|v| loss.derivative(v)).collect();
        let mut drive = Vec::with_capacity(p * k);
        for j in 0..p {
            for neuron in 0..k {
                let mut pair = gradient[index(0, neuron)].clone();
                pair.add(1.0, &gradient[index(1, neuron)]);
                let mut terms = self.terms(&pair, -1.0, Hidden::Pair(j));
                terms.extend(self.terms(&gradient[index(2, neuron)], -1.0, Hidden::Negative(j)));
                drive.push(terms);
            }
        }
        let mut self_term = vec![Vec::new(); k * k];
        let mut noise = vec![Vec::new(); k * k];
        for a in 0..k {
            for b in a..k {
                let (mut hessian, mut product) = (Polynomial::default(), Polynomial::default());
                for (s, row) in sigma.iter().enumerate() {
                    for (t, &weight) in row.iter().enumerate().filter(|e| *e.1 != 0.0) {
                        let (u, v) = (index(s, a), index(t, b));
                        hessian.add(-weight, &gradient[u].derivative(v));
                        product.add(weight, &gradient[u].times(&gradient[v]));
                    }
                }
                self_term[a * k + b] = self.terms(&hessian.simplified(), 1.0, Hidden::None);
                noise[a * k + b] = self.terms(&product.simplified(), 1.0, Hidden::None);
            }
        }
        Plan {
            drive,
            self_term,
            noise,
        }
    }

    /// Registers `scale · E[hidden · polynomial]`, each monomial split into its pair and
    /// negative factors.
    fn terms(&mut self, polynomial: &Polynomial, scale: f64, hidden: Hidden) -> Vec<Term> {
        let vars = self.variables;
        polynomial
            .0
            .iter()
            .map(|(c, m)| {
                let (pair, negative): (Vec<_>, Vec<_>) =
                    m.0.iter().partition(|f| vars.is_pair(f.0));
                // The two views are exchangeable: register one of the mirror images.
                let mirrored = Monomial({
                    let mut f: Vec<_> = pair.iter().map(|&(v, p)| (vars.swapped(v), p)).collect();
                    f.sort();
                    f
                });
                let pair = Monomial(pair).min(mirrored);
                let (pair_hidden, negative_hidden) = match hidden {
                    Hidden::None => (None, None),
                    Hidden::Pair(j) => (Some(j), None),
                    Hidden::Negative(j) => (None, Some(j)),
                };
                Term {
                    coefficient: scale * c,
                    pair: self.pair.register(pair, pair_hidden),
                    negative: self.negative.register(Monomial(negative), negative_hidden),
                }
            })
            .collect()
    }
}

/// Which hidden variable multiplies an expectation: `c_j` (pair) or `c'_j` (negative).
#[derive(Debug, Clone, Copy)]
enum Hidden {
    None,
    Pair(usize),
    Negative(usize),
}

/// The expectations `E[c_j^{0|1} · monomial]` needed on one side (pair or negative).
#[derive(Default)]
struct Side {
    index: HashMap<(Monomial, Option<usize>), usize>,
    list: Vec<(Monomial, Option<usize>)>,
}

impl Side {
    fn register(&mut self, monomial: Monomial, hidden: Option<usize>) -> usize {
        let key = (monomial, hidden);
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        self.list.push(key.clone());
        self.index.insert(key, self.list.len() - 1);
        self.list.len() - 1
    }

    /// All registered expectations, one block per set of pre-activations; `covariance`
    /// gives `Cov(h_a, h_b)` given the hidden variables, `views` how it splits for the pair.
    fn evaluate(
        &self,
        context: &Context,
        views: Option<Views>,
        covariance: impl Fn(Preactivation, Preactivation) -> f64,
    ) -> Vec<f64> {
        let variables = Variables {
            neurons: context.state.neurons,
        };
        let mut blocks: HashMap<Vec<usize>, Vec<usize>> = HashMap::new();
        for (i, (m, _)) in self.list.iter().enumerate() {
            blocks
                .entry(m.0.iter().map(|f| f.0).collect())
                .or_default()
                .push(i);
        }
        let mut out = vec![0.0; self.list.len()];
        for (members, requests) in blocks {
            if let Some(views) = views
                && self.conditioned(context, views, &members, &requests, &mut out)
            {
                continue;
            }
            let preactivations: Vec<Preactivation> =
                members.iter().map(|&v| variables.of(v)).collect();
            let powers: Vec<Vec<Power>> = requests
                .iter()
                .map(|&i| self.list[i].0.0.iter().map(|f| f.1).collect())
                .collect();
            let block = Block::new(
                context,
                &preactivations,
                &powers,
                &covariance,
                Tabulation {
                    from: TABLE_FROM,
                    step: TABLE_STEP / context.resolution,
                    lowest: &context.hidden.lowest,
                    highest: &context.hidden.highest,
                },
            );
            let mut work = block.workspace();
            for node in &context.hidden.nodes {
                let values = block.integrate(context.activation, &node.means, &mut work);
                for (slot, &i) in requests.iter().enumerate() {
                    let factor = self.list[i].1.map_or(1.0, |j| node.c[j]);
                    out[i] += node.weight * factor * values[slot];
                }
            }
            context.count(&block);
        }
        out
    }

    /// The four pre-activations `h_{1,a}, h_{1,b}, h_{2,a}, h_{2,b}` of two neurons, by
    /// conditioning on the part the views share (MODEL.md §7, numerical notes): with
    /// `h_{s,k} = y_k + B_{s,k}`, `y = μ + A`, `A ~ N(0, r R)` and `B_s ~ N(0, (σ² − r) R)`
    /// independent, a monomial's expectation is `E_y[U_1(y) U_2(y)]`, each `U` a
    /// two-variable smoothing of one view's factors. `y` runs over one grid shared by all
    /// hidden nodes (a trapezoidal rule in `z = L_A⁻¹ y` with weights `φ(z − L_A⁻¹ μ)`,
    /// each node's truncated to its ball and normalised), so the `U` are computed once per
    /// grid point instead of once per node: three nested sums per node become two shared
    /// ones around a tabulated one-dimensional smoothing. Adds to `out` and returns true,
    /// or returns false where this does not apply (other blocks, `R` singular on `a, b`).
    fn conditioned(
        &self,
        context: &Context,
        views: Views,
        members: &[usize],
        requests: &[usize],
        out: &mut [f64],
    ) -> bool {
        let k = context.state.neurons;
        let variables = Variables { neurons: k };
        let &[a, b, c, d] = members else {
            return false;
        };
        if [c, d] != [variables.swapped(a), variables.swapped(b)] {
            return false;
        }
        let neurons = [variables.of(a).neuron, variables.of(b).neuron];
        let r = |m: usize, n: usize| context.state.norm2[neurons[m] * k + neurons[n]];
        // L_A, the Cholesky factor of r R on the two neurons.
        let l00 = (views.shared * r(0, 0)).sqrt();
        if l00 == 0.0 {
            return false;
        }
        let l10 = views.shared * r(0, 1) / l00;
        let rest = views.shared * r(1, 1) - l10 * l10;
        if rest <= RANK_TOLERANCE * views.shared * r(0, 0).max(r(1, 1)) {
            return false;
        }
        let l11 = rest.sqrt();
        // Each monomial as (view 1 part, view 2 part), each as powers of (h_a, h_b); the
        // views have the same law given y, so both parts are smoothings of view 1.
        let mut keys: HashMap<Vec<Power>, usize> = HashMap::new();
        let mut powers: Vec<Vec<Power>> = Vec::new();
        let mut key = |power: Vec<Power>| {
            let next = keys.len();
            *keys.entry(power.clone()).or_insert_with(|| {
                powers.push(power);
                next
            })
        };
        let parts: Vec<[usize; 2]> = requests
            .iter()
            .map(|&i| {
                let factors = &self.list[i].0.0;
                [
                    key(vec![factors[0].1, factors[1].1]),
                    key(vec![factors[2].1, factors[3].1]),
                ]
            })
            .collect();
        // The grid of z and how far y reaches from the means on it.
        let spacing = |scale: f64| {
            let mut rule = GaussianRule::default();
            rule.set(context.activation, scale, context.resolution);
            rule.nodes[1] - rule.nodes[0]
        };
        let step = [spacing(l00.max(l10.abs())), spacing(l11)];
        let radius = BALL.sqrt();
        let centres: Vec<[f64; 2]> = context
            .hidden
            .nodes
            .iter()
            .map(|node| {
                let z0 = node.means[neurons[0]] / l00;
                [z0, (node.means[neurons[1]] - l10 * z0) / l11]
            })
            .collect();
        let reach = [radius * l00, radius * (l10 * l10 + l11 * l11).sqrt()];
        let (mut lowest, mut highest) = (
            context.hidden.lowest.clone(),
            context.hidden.highest.clone(),
        );
        for (m, &n) in neurons.iter().enumerate() {
            lowest[n] -= reach[m];
            highest[n] += reach[m];
        }
        let own = |p: Preactivation, q: Preactivation| {
            views.own * context.state.norm2[p.neuron * k + q.neuron]
        };
        let inner = Block::new(
            context,
            &[variables.of(a), variables.of(b)],
            &powers,
            own,
            // A table for any rank: the smoothings are looked up at every grid point. Its
            // finer spacing (it costs memory, not time) keeps the error of a product of
            // two interpolated smoothings below that of the nested sums it replaces.
            Tabulation {
                from: 1,
                step: TABLE_STEP / (2.0 * context.resolution),
                lowest: &lowest,
                highest: &highest,
            },
        );
        let mut work = inner.workspace();
        let mut sums = vec![0.0; centres.len() * requests.len()];
        let mut totals = vec![0.0; centres.len()];
        let mut means = vec![0.0; k];
        // The grid points within some node's ball: per column, the union of the nodes'
        // chords (the balls may lie far apart along z_2 when R is nearly singular).
        let (low, high) = centres
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), c| (l.min(c[0]), h.max(c[0])));
        let columns =
            ((low - radius) / step[0]).floor() as i64..=((high + radius) / step[0]).ceil() as i64;
        let mut chords: Vec<(i64, i64)> = Vec::with_capacity(centres.len());
        let mut distances = vec![0.0; centres.len()];
        for i in columns {
            let z0 = i as f64 * step[0];
            chords.clear();
            for c in &centres {
                let half = BALL - (z0 - c[0]).powi(2);
                if half >= 0.0 {
                    let half = half.sqrt();
                    chords.push((
                        ((c[1] - half) / step[1]).ceil() as i64,
                        ((c[1] + half) / step[1]).floor() as i64,
                    ));
                }
            }
            chords.sort_unstable();
            let mut next = i64::MIN;
            for &(first, last) in &chords {
                for j in first.max(next)..=last {
                    let z1 = j as f64 * step[1];
                    for (d2, c) in distances.iter_mut().zip(&centres) {
                        *d2 = (z0 - c[0]).powi(2) + (z1 - c[1]).powi(2);
                    }
                    means[neurons[0]] = l00 * z0;
                    means[neurons[1]] = l10 * z0 + l11 * z1;
                    let smoothed = inner.integrate(context.activation, &means, &mut work);
                    for (node, &d2) in distances.iter().enumerate().filter(|e| *e.1 <= BALL) {
                        let weight = (-0.5 * d2).exp();
                        totals[node] += weight;
                        let row = &mut sums[node * requests.len()..][..requests.len()];
                        for (sum, [one, two]) in row.iter_mut().zip(&parts) {
                            *sum += weight * smoothed[*one] * smoothed[*two];
                        }
                    }
                }
                next = next.max(last + 1);
            }
        }
        context.count(&inner);
        for (n, node) in context.hidden.nodes.iter().enumerate() {
            let row = &sums[n * requests.len()..][..requests.len()];
            for (&sum, &i) in row.iter().zip(requests) {
                let factor = self.list[i].1.map_or(1.0, |j| node.c[j]);
                out[i] += node.weight * factor * sum / totals[n];
            }
        }
        true
    }
}

/// How the pair's noise covariance `Σ_ν` splits: `shared = Σ_ν[1,2] = r > 0` common to the
/// views and `own = σ² − r > 0` of each view alone.
#[derive(Debug, Clone, Copy)]
struct Views {
    shared: f64,
    own: f64,
}

// ---------------------------------------------------------------------------------------
// The hidden variables
// ---------------------------------------------------------------------------------------

/// What a block needs besides its own pre-activations.
struct Context<'a> {
    activation: Activation,
    state: &'a OrderParameters,
    hidden: &'a HiddenNodes,
    resolution: f64,
    /// Activation evaluations so far, the cost model of the benchmarks.
    evaluations: Cell<usize>,
}

impl Context<'_> {
    /// Adds what `block` has evaluated.
    fn count(&self, block: &Block) {
        self.evaluations
            .set(self.evaluations.get() + block.evaluations.get());
    }
}

/// One combination of nodes of the hidden laws.
struct HiddenNode {
    weight: f64,
    /// `c_j` per feature.
    c: Vec<f64>,
    /// `μ_k = Σ_j c_j Q_{jk}` per neuron: the mean of every pre-activation of neuron `k`.
    means: Vec<f64>,
}

/// Every combination of nodes, and the range of the means over them.
struct HiddenNodes {
    nodes: Vec<HiddenNode>,
    lowest: Vec<f64>,
    highest: Vec<f64>,
}

impl HiddenNodes {
    fn new(problem: &Problem, state: &OrderParameters, resolution: f64) -> HiddenNodes {
        let k = state.neurons;
        let q = |j: usize, neuron: usize| state.overlaps[j * k + neuron];
        let per_feature: Vec<Vec<(f64, f64)>> = problem
            .hidden
            .iter()
            .enumerate()
            .map(|(j, law)| match law.quadrature(resolution) {
                HiddenQuadrature::Nodes(nodes) => nodes,
                HiddenQuadrature::Gaussian(variance) => {
                    // After the Gaussian integral the integrand is analytic in c_j in a strip
                    // set by the largest loading of c_j on a pre-activation.
                    let sd = variance.sqrt();
                    let loading = (0..k).fold(0.0f64, |m, n| m.max(q(j, n).abs()));
                    let mut rule = GaussianRule::default();
                    rule.set(problem.activation, sd * loading, resolution);
                    rule.nodes
                        .iter()
                        .zip(&rule.weights)
                        .map(|(u, w)| (sd * u, *w))
                        .collect()
                }
            })
            .collect();
        let mut nodes = vec![HiddenNode {
            weight: 1.0,
            c: Vec::new(),
            means: vec![0.0; k],
        }];
        for (j, feature) in per_feature.iter().enumerate() {
            nodes = nodes
                .iter()
                .flat_map(|node| {
                    feature.iter().map(move |&(c, w)| HiddenNode {
                        weight: node.weight * w,
                        c: node.c.iter().copied().chain([c]).collect(),
                        means: (0..k).map(|n| node.means[n] + c * q(j, n)).collect(),
                    })
                })
                .collect();
        }
        let extreme = |pick: fn(f64, f64) -> f64| -> Vec<f64> {
            (0..k)
                .map(|n| {
                    nodes
                        .iter()
                        .map(|node| node.means[n])
                        .reduce(pick)
                        .unwrap_or(0.0)
                })
                .collect()
        };
        HiddenNodes {
            lowest: extreme(f64::min),
            highest: extreme(f64::max),
            nodes,
        }
    }
}

// ---------------------------------------------------------------------------------------
// One block: expectations of monomials in at most four jointly Gaussian pre-activations
// ---------------------------------------------------------------------------------------

/// Largest number of pre-activations in one monomial (four of the pair in `V`).
const MAX_VARIABLES: usize = 4;

/// Squared radius of the ball in standardised coordinates over which the nested sums run:
/// the Gaussian mass outside it is below 1e-14 in up to three dimensions.
const BALL: f64 = 72.0;

/// A variable whose conditional variance falls below this fraction of the largest variance
/// is a linear function of the earlier ones; neglecting a variance `v` costs about `v`.
const RANK_TOLERANCE: f64 = 1e-14;

/// Number of integrated coordinates from which the innermost one is tabulated: below it a
/// table costs more to build than it saves.
const TABLE_FROM: usize = 3;

/// When and how a block tabulates its innermost coordinate.
struct Tabulation<'a> {
    /// Least number of integrated coordinates for a table.
    from: usize,
    /// Spacing of the table.
    step: f64,
    /// Per neuron, the range of the means the block is evaluated at.
    lowest: &'a [f64],
    highest: &'a [f64],
}

/// How the coordinate of one level of the nested sums is integrated.
enum Integral {
    /// No coordinate: the root, evaluated at the means.
    Point,
    /// The trapezoidal rule of [`crate::quadrature`], with its spacing.
    Rule(GaussianRule, f64),
    /// The last coordinate, read from a table of the Gaussian smoothing.
    Table(Table),
}

/// One level of the nested sums.
struct Stage {
    /// The column of `L` integrated here (unused at the root).
    column: usize,
    integral: Integral,
    /// The block's variables whose last coordinate is this one.
    variables: Vec<usize>,
    /// Distinct powers of those variables among the monomials.
    keys: Vec<Vec<Power>>,
    /// Distinct (key, entry of the next stage) pairs: the tails of the monomials.
    entries: Vec<(usize, usize)>,
}

/// The nested quadrature for one set of pre-activations.
struct Block {
    /// Per variable: its neuron, whose mean it has, and its row of `L`.
    neurons: Vec<usize>,
    loadings: Vec<[f64; MAX_VARIABLES]>,
    stages: Vec<Stage>,
    /// Per monomial: its entry at the root.
    roots: Vec<usize>,
    /// Activation evaluations so far (building the table included): counted per sum, not
    /// per point, so that counting costs nothing measurable.
    evaluations: Cell<usize>,
}

/// Scratch space of [`Block::integrate`]: per stage, the sums over its entries and the
/// values of its keys.
struct BlockWork {
    sums: Vec<Vec<f64>>,
    keys: Vec<Vec<f64>>,
    values: Vec<f64>,
}

impl Block {
    fn new(
        context: &Context,
        preactivations: &[Preactivation],
        powers: &[Vec<Power>],
        covariance: impl Fn(Preactivation, Preactivation) -> f64,
        tabulation: Tabulation,
    ) -> Block {
        let d = preactivations.len();
        assert!(
            d <= MAX_VARIABLES,
            "a monomial has at most four pre-activations"
        );
        assert!(
            powers
                .iter()
                .flatten()
                .all(|p| (0..3).all(|e| p[e] <= MAX_POWER[e])),
            "powers beyond the factor tables"
        );
        let mut matrix = [[0.0; MAX_VARIABLES]; MAX_VARIABLES];
        for a in 0..d {
            for b in 0..d {
                matrix[a][b] = covariance(preactivations[a], preactivations[b]);
            }
        }
        let (loadings, rank) = pivoted_cholesky(&matrix, d);
        // The last coordinate on which each variable loads: there its factor is known.
        let last = |v: usize| (0..rank).rev().find(|&c| loadings[v][c] != 0.0);
        let tabulated =
            rank >= tabulation.from && (0..d).filter(|&v| last(v) == Some(rank - 1)).count() == 1;
        let mut stages: Vec<Stage> = (0..=rank)
            .map(|level| Stage {
                column: level.saturating_sub(1),
                integral: Integral::Point,
                variables: (0..d)
                    .filter(|&v| last(v).map_or(0, |c| c + 1) == level)
                    .collect(),
                keys: Vec::new(),
                entries: Vec::new(),
            })
            .collect();
        for stage in stages.iter_mut().skip(1) {
            let column = stage.column;
            let loads = (0..d).map(|v| loadings[v][column].abs());
            // tanh is limited by its poles, so the largest loading sets the spacing; erf
            // by its growth off the real axis, to which every loading contributes.
            let scale = match context.activation.pole_distance() {
                Some(_) => loads.fold(0.0, f64::max),
                None => loads.map(|l| l * l).sum::<f64>().sqrt(),
            };
            let mut rule = GaussianRule::default();
            rule.set(context.activation, scale, context.resolution);
            let step = if rule.len() > 1 {
                rule.nodes[1] - rule.nodes[0]
            } else {
                1.0
            };
            stage.integral = Integral::Rule(rule, step);
        }
        // Entries from the innermost stage out, so that each refers to the next one's.
        let mut roots = vec![usize::MAX; powers.len()];
        for level in (0..stages.len()).rev() {
            let stage = &mut stages[level];
            let mut keys: HashMap<Vec<Power>, usize> = HashMap::new();
            let mut entries: HashMap<(usize, usize), usize> = HashMap::new();
            for (m, monomial) in powers.iter().enumerate() {
                let key: Vec<Power> = stage.variables.iter().map(|&v| monomial[v]).collect();
                let next = keys.len();
                let key = *keys.entry(key.clone()).or_insert_with(|| {
                    stage.keys.push(key);
                    next
                });
                let next = entries.len();
                let entry = *entries.entry((key, roots[m])).or_insert_with(|| {
                    stage.entries.push((key, roots[m]));
                    next
                });
                roots[m] = entry;
            }
        }
        if tabulated {
            let stage = stages.last_mut().expect("rank ≥ 3");
            let v = stage.variables[0];
            let sigma = loadings[v][stage.column];
            // The conditional mean of v before its last coordinate stays in this range.
            let outer: f64 = loadings[v][..stage.column].iter().map(|l| l * l).sum();
            let reach = (BALL * outer).sqrt();
            let neuron = preactivations[v].neuron;
            // The table's values are its entries: one entry per key, in the same order.
            debug_assert!(stage.entries.iter().enumerate().all(|(e, &(k, _))| e == k));
            let powers: Vec<Power> = stage.keys.iter().map(|k| k[0]).collect();
            stage.integral = Integral::Table(Table::new(
                context.activation,
                sigma,
                &powers,
                tabulation.lowest[neuron] - reach,
                tabulation.highest[neuron] + reach,
                tabulation.step,
                context.resolution,
            ));
        }
        let tabulated = match &stages.last().map(|s| &s.integral) {
            Some(Integral::Table(table)) => table.evaluations,
            _ => 0,
        };
        Block {
            neurons: preactivations.iter().map(|p| p.neuron).collect(),
            loadings,
            stages,
            roots,
            evaluations: Cell::new(tabulated),
        }
    }

    fn workspace(&self) -> BlockWork {
        BlockWork {
            sums: self
                .stages
                .iter()
                .map(|s| vec![0.0; s.entries.len()])
                .collect(),
            keys: self
                .stages
                .iter()
                .map(|s| vec![0.0; s.keys.len()])
                .collect(),
            values: vec![0.0; self.roots.len()],
        }
    }

    fn add_evaluations(&self, n: usize) {
        self.evaluations.set(self.evaluations.get() + n);
    }

    /// The expectation of every monomial given the neurons' means.
    fn integrate<'w>(
        &self,
        activation: Activation,
        means: &[f64],
        work: &'w mut BlockWork,
    ) -> &'w [f64] {
        let mut x = [0.0; MAX_VARIABLES];
        for (x, &n) in x.iter_mut().zip(&self.neurons) {
            *x = means[n];
        }
        self.stage(activation, 0, x, BALL, &mut work.sums, &mut work.keys);
        for (value, &root) in work.values.iter_mut().zip(&self.roots) {
            *value = work.sums[0][root];
        }
        &work.values
    }

    /// Fills `sums[0]` with this stage's entries, given the pre-activations `x` after the
    /// earlier coordinates and what is left of the ball.
    fn stage(
        &self,
        activation: Activation,
        level: usize,
        x: [f64; MAX_VARIABLES],
        radius2: f64,
        sums: &mut [Vec<f64>],
        keys: &mut [Vec<f64>],
    ) {
        let stage = &self.stages[level];
        let (here, deeper) = sums.split_first_mut().expect("one sum per stage");
        let (values, deeper_keys) = keys.split_first_mut().expect("one key set per stage");
        let innermost = level + 1 == self.stages.len();
        match &stage.integral {
            Integral::Table(table) => table.interpolate(x[stage.variables[0]], here),
            Integral::Point => {
                here.fill(0.0);
                self.add_evaluations(stage.variables.len());
                stage.evaluate_keys(activation, &x, values);
                if !innermost {
                    self.stage(activation, level + 1, x, radius2, deeper, deeper_keys);
                }
                stage.accumulate(1.0, values, deeper.first().map(Vec::as_slice), here);
            }
            Integral::Rule(rule, step) => {
                here.fill(0.0);
                let centre = rule.len() / 2;
                let reach = ((radius2.max(0.0).sqrt() / step).floor() as usize).min(centre);
                self.add_evaluations((2 * reach + 1) * stage.variables.len());
                for i in centre - reach..=centre + reach {
                    let (w, weight) = (rule.nodes[i], rule.weights[i]);
                    let mut y = x;
                    for (y, row) in y.iter_mut().zip(&self.loadings) {
                        *y += row[stage.column] * w;
                    }
                    stage.evaluate_keys(activation, &y, values);
                    match self
                        .stages
                        .get(level + 1)
                        .map(|s| (&s.integral, &s.variables))
                    {
                        // Inlined: this is the hot loop of the four-variable blocks.
                        Some((Integral::Table(table), v)) => {
                            table.interpolate(y[v[0]], &mut deeper[0])
                        }
                        Some(_) => self.stage(
                            activation,
                            level + 1,
                            y,
                            radius2 - w * w,
                            deeper,
                            deeper_keys,
                        ),
                        None => {}
                    }
                    stage.accumulate(weight, values, deeper.first().map(Vec::as_slice), here);
                }
            }
        }
    }
}

impl Stage {
    /// The products of the factors of this stage's variables at `x`, one per key.
    fn evaluate_keys(&self, activation: Activation, x: &[f64; MAX_VARIABLES], out: &mut [f64]) {
        match self.variables[..] {
            // The common case, one variable per stage, without the product over variables.
            [v] => {
                let factors = Factors::at(activation, x[v]);
                for (value, key) in out.iter_mut().zip(&self.keys) {
                    *value = factors.get(key[0]);
                }
            }
            _ => {
                let factors: Vec<Factors> = self
                    .variables
                    .iter()
                    .map(|&v| Factors::at(activation, x[v]))
                    .collect();
                for (value, key) in out.iter_mut().zip(&self.keys) {
                    *value = key.iter().zip(&factors).map(|(p, f)| f.get(*p)).product();
                }
            }
        }
    }

    /// `here[e] += weight · key value · next stage's entry` for every entry.
    fn accumulate(&self, weight: f64, keys: &[f64], next: Option<&[f64]>, here: &mut [f64]) {
        match next {
            Some(next) => {
                for (sum, &(key, child)) in here.iter_mut().zip(&self.entries) {
                    *sum += weight * keys[key] * next[child];
                }
            }
            None => {
                for (sum, &(key, _)) in here.iter_mut().zip(&self.entries) {
                    *sum += weight * keys[key];
                }
            }
        }
    }
}

/// Largest powers of `f`, `f'`, `f''` in one factor: `F⁴` arises in `V` from `S_{s,k}²`,
/// `f'²` from products of two gradients, `f''` only in the Hessian.
const MAX_POWER: Power = [4, 2, 1];

/// The powers of `f`, `f'`, `f''` at one point, so that a factor is three lookups.
struct Factors {
    f: [f64; 5],
    fp: [f64; 3],
    fpp: [f64; 2],
}

impl Factors {
    #[inline]
    fn at(activation: Activation, h: f64) -> Factors {
        let [f, fp, fpp] = match activation {
            // tanh and its derivatives from one exponential, which is cheaper than the
            // library's tanh in the innermost loop; f' = 4e/(1+e)² keeps its relative
            // accuracy in the tails, where 1 − tanh² would cancel.
            Activation::Tanh => {
                let e = (-2.0 * h.abs()).exp();
                let inverse = 1.0 / (1.0 + e);
                let t = ((1.0 - e) * inverse).copysign(h);
                let d1 = 4.0 * e * inverse * inverse;
                [t, d1, -2.0 * t * d1]
            }
            _ => activation.derivatives(h),
        };
        let f2 = f * f;
        Factors {
            f: [1.0, f, f2, f2 * f, f2 * f2],
            fp: [1.0, fp, fp * fp],
            fpp: [1.0, fpp],
        }
    }

    /// `f^a f'^b f''^c`.
    #[inline]
    fn get(&self, [a, b, c]: Power) -> f64 {
        self.f[usize::from(a)] * self.fp[usize::from(b)] * self.fpp[usize::from(c)]
    }
}

/// `L` with `L Lᵀ = C` for a positive semi-definite `C` (`d × d`), columns in pivot order,
/// and its rank: directions of variance below [`RANK_TOLERANCE`] are dropped, and loadings
/// that are rounding noise are set to zero so that they do not delay a variable's stage.
fn pivoted_cholesky(
    c: &[[f64; MAX_VARIABLES]; MAX_VARIABLES],
    d: usize,
) -> (Vec<[f64; MAX_VARIABLES]>, usize) {
    let mut rest = *c;
    let mut loadings = vec![[0.0; MAX_VARIABLES]; d];
    let largest = (0..d).fold(0.0f64, |m, v| m.max(c[v][v]));
    let mut pivoted = [false; MAX_VARIABLES];
    let mut rank = 0;
    while rank < d {
        let Some(pivot) = (0..d)
            .filter(|&v| !pivoted[v])
            .max_by(|&a, &b| rest[a][a].total_cmp(&rest[b][b]))
        else {
            break;
        };
        let variance = rest[pivot][pivot];
        if variance <= RANK_TOLERANCE * largest || variance <= 0.0 {
            break;
        }
        let root = variance.sqrt();
        for v in 0..d {
            let l = if pivoted[v] {
                0.0
            } else {
                rest[v][pivot] / root
            };
            loadings[v][rank] = if l.abs() <= 1e-13 * largest.sqrt() {
                0.0
            } else {
                l
            };
        }
        loadings[pivot][rank] = root;
        pivoted[pivot] = true;
        for a in 0..d {
            for b in 0..d {
                rest[a][b] -= loadings[a][rank] * loadings[b][rank];
            }
        }
        rank += 1;
    }
    (loadings, rank)
}

// ---------------------------------------------------------------------------------------
// Tables of the innermost Gaussian smoothing
// ---------------------------------------------------------------------------------------

/// Spacing of the tables at resolution 1. The smoothed factors are analytic at least as
/// far from the real axis as the activation (π/2 for tanh), so eight-point interpolation
/// errs by about `(0.05 / (π/2))⁸ ≈ 1e-12` relative to their size.
const TABLE_STEP: f64 = 0.05;

/// Points of the interpolation stencil, and how many lie at or below the evaluation point.
const STENCIL: usize = 8;
const STENCIL_BELOW: usize = 4;

/// `E_u[f^a f'^b f''^c (t + σ u)]` for a list of powers on a uniform grid of `t`, stored
/// per interval as the coefficients of its eight-point Lagrange interpolant, so that a
/// lookup is one Horner evaluation per power instead of forming the Lagrange weights.
struct Table {
    start: f64,
    step: f64,
    /// `coefficients[(i * STENCIL + j) * powers + p]`: the coefficient of `x^j` for power
    /// `p` on interval `i`, where `x ∈ [−½, ½)` is the offset from the interval's centre
    /// in steps and the interval's stencil is grid points `i..i + 8`.
    coefficients: Vec<f64>,
    powers: usize,
    /// Activation evaluations that building the table took.
    evaluations: usize,
}

impl Table {
    fn new(
        activation: Activation,
        sigma: f64,
        powers: &[Power],
        lowest: f64,
        highest: f64,
        step: f64,
        resolution: f64,
    ) -> Table {
        let start = lowest - STENCIL as f64 * step;
        let points = ((highest - lowest) / step).ceil() as usize + 2 * STENCIL + 1;
        let mut rule = GaussianRule::default();
        rule.set(activation, sigma, resolution);
        let mut values = vec![0.0; points * powers.len()];
        for (g, row) in values.chunks_exact_mut(powers.len()).enumerate() {
            let t = start + g as f64 * step;
            for (u, w) in rule.nodes.iter().zip(&rule.weights) {
                let factors = Factors::at(activation, t + sigma * u);
                for (value, &power) in row.iter_mut().zip(powers) {
                    *value += w * factors.get(power);
                }
            }
        }
        let basis = lagrange_basis();
        let intervals = points + 1 - STENCIL;
        let mut coefficients = vec![0.0; intervals * STENCIL * powers.len()];
        for (i, interval) in coefficients
            .chunks_exact_mut(STENCIL * powers.len())
            .enumerate()
        {
            for (k, polynomial) in basis.iter().enumerate() {
                let row = &values[(i + k) * powers.len()..][..powers.len()];
                for (j, &c) in polynomial.iter().enumerate() {
                    let out = &mut interval[j * powers.len()..][..powers.len()];
                    for (o, v) in out.iter_mut().zip(row) {
                        *o += c * v;
                    }
                }
            }
        }
        Table {
            start,
            step,
            coefficients,
            powers: powers.len(),
            evaluations: points * rule.len(),
        }
    }

    /// Every power at `t`, by Lagrange interpolation on the eight surrounding points.
    #[inline]
    fn interpolate(&self, t: f64, out: &mut [f64]) {
        let position = (t - self.start) / self.step;
        // `position` is positive: the table extends a stencil beyond every argument.
        let below = position as usize;
        let interval = below + 1 - STENCIL_BELOW;
        let x = position - below as f64 - 0.5;
        let n = self.powers;
        let block = &self.coefficients[interval * STENCIL * n..][..STENCIL * n];
        out.copy_from_slice(&block[(STENCIL - 1) * n..]);
        for j in (0..STENCIL - 1).rev() {
            for (o, c) in out.iter_mut().zip(&block[j * n..][..n]) {
                *o = *o * x + c;
            }
        }
    }
}

/// The monomial coefficients of the Lagrange basis polynomials on the stencil points
/// `k − STENCIL_BELOW + ½` (`k = 0..8`), in the offset from the centre of the interval
/// between the fourth and fifth point.
fn lagrange_basis() -> [[f64; STENCIL]; STENCIL] {
    let node = |k: usize| k as f64 - STENCIL_BELOW as f64 + 0.5;
    let mut basis = [[0.0; STENCIL]; STENCIL];
    for (k, polynomial) in basis.iter_mut().enumerate() {
        polynomial[0] = 1.0;
        let mut degree = 0;
        for m in (0..STENCIL).filter(|&m| m != k) {
            // polynomial *= (x − node(m)) / (node(k) − node(m))
            let scale = 1.0 / (node(k) - node(m));
            degree += 1;
            for j in (0..=degree).rev() {
                let shifted = if j > 0 { polynomial[j - 1] } else { 0.0 };
                polynomial[j] = (shifted - node(m) * polynomial[j]) * scale;
            }
        }
    }
    basis
}
