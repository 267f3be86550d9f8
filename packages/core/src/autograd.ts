// Reverse-mode automatic differentiation over the graph of GradNodes.
import { engine, keep, noGrad, tidy } from './engine.ts';
import { Tensor } from './tensor.ts';
import { shapeStr } from './shape.ts';

/** Tensors reachable from root through nodes, ordered so every tensor follows its inputs. */
function topoSort(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: model graphs are deep enough to overflow a recursive one.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const inp = inputs[i]!;
      if (inp.requiresGrad && !seen.has(inp)) { seen.add(inp); stack.push([inp, 0]); }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/**
 * Computes d root / d t for every leaf t with requiresGrad reachable from root and adds it
 * to t.grad (kept out of tidy scopes, as PyTorch keeps .grad). Intermediate gradients are
 * disposed as soon as they have been propagated.
 */
export function backward(root: Tensor, gradient?: Tensor, targets?: Set<Tensor>): Map<Tensor, Tensor> {
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not require grad (no input of its graph has requiresGrad)');
  if (!gradient && root.size !== 1) throw new Error(`backward(): the output has shape ${shapeStr(root.shape)}; pass a gradient or reduce it to a scalar`);
  const order = topoSort(root);
  const grads = new Map<Tensor, Tensor>();
  const captured = new Map<Tensor, Tensor>();
  noGrad(() => {
    const g0 = gradient ? gradient : constantLike(root, 1);
    grads.set(root, g0);
    for (let idx = order.length - 1; idx >= 0; idx--) {
      const t = order[idx]!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.node;
      if (targets?.has(t)) {
        captured.set(t, keep(g));
      } else if (!node && targets) {
        if (g !== gradient) g.dispose(); // functional grad(): leave .grad untouched
        continue;
      } else if (!node) {
        // A leaf: accumulate into .grad.
        if (t.grad) {
          const sum = keep(t.grad.add(g));
          t.grad.dispose();
          t.grad = sum;
          if (g !== gradient) g.dispose();
        } else {
          t.grad = g === gradient ? keep(g.add(0)) : keep(g);
        }
        continue;
      }
      if (!node) continue;
      const inputGrads = tidy(() => node.backward(g));
      const owned = new Set<Tensor>([g]);
      node.inputs.forEach((inp, i) => {
        let gi = inputGrads[i];
        if (!gi) return;
        // A gradient passed through unchanged (or given to two inputs) gets its own handle on
        // the shared storage, so each owner can dispose its handle independently.
        if (owned.has(gi)) gi = gi.detach();
        owned.add(gi);
        if (!inp.requiresGrad) { gi.dispose(); return; }
        if (gi.shape.join() !== inp.shape.join()) {
          throw new Error(`internal: ${node.op} backward gave a gradient of shape ${shapeStr(gi.shape)} for an input of shape ${shapeStr(inp.shape)}`);
        }
        const prev = grads.get(inp);
        if (prev) { grads.set(inp, prev.add(gi)); prev.dispose(); gi.dispose(); } else grads.set(inp, gi);
      });
      if (g !== gradient) g.dispose();
    }
  });
  for (const g of grads.values()) g.dispose();
  return captured;
}

/** A float32 constant shaped like t, filled directly (t * 0 + c would turn a NaN or inf in t
 * into a NaN gradient). */
function constantLike(t: Tensor, value: number): Tensor {
  return Tensor.fromStorage(t.backend, t.backend.fill(t.size, 'float32', value), t.shape);
}

/**
 * Functional gradient: grad(f)(...xs) returns d f(...xs) / d xs for each tensor argument,
 * leaving every .grad untouched. f must return a scalar tensor.
 */
export function grad<A extends Tensor[]>(f: (...args: A) => Tensor): (...args: A) => Tensor[] {
  return (...args: A) => valueAndGrad(f)(...args).grads;
}

/** Like grad, but also returns f's value. */
export function valueAndGrad<A extends Tensor[]>(f: (...args: A) => Tensor): (...args: A) => { value: Tensor; grads: Tensor[] } {
  return (...args: A) => {
    const inputs = args.map((a) => (engine.gradEnabled ? a.detach().requiresGrad_(true) : a)) as A;
    if (!engine.gradEnabled) throw new Error('valueAndGrad(): called inside noGrad()');
    const value = f(...inputs);
    const captured = backward(value, undefined, new Set(inputs));
    const grads = inputs.map((inp) => captured.get(inp) ?? constantLike(inp, 0));
    return { value: value.detach(), grads };
  };
}
