// Prompt building, label masking (mask_qwen_labels) and the splice plan, as properties over
// random instructions, states, actions and batch compositions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildPromptIds, collatePrompts, maskLabels, planSplice, type PromptConfig, type PromptLayout } from '../src/index.ts';

const base: PromptConfig = {
  imageTokenIndex: -200, stateTokenIndex: -201, ignoreIndex: -100, padTokenId: 0, endTokenId: 1, colonTokenId: 4, assistantTokenId: 3,
  stateDim: 3, actionDim: 7, actionChunk: 2, layout: 'instr-image-instr', stateEncoding: 'bins', stateFourierBands: 6, groundingTokens: 0, binFourierBands: 0,
};
const textId = fc.integer({ min: 5, max: 200 });
const actionId = fc.integer({ min: 256, max: 511 });
const row = fc.record({
  instruction: fc.array(textId, { minLength: 1, maxLength: 10 }),
  state: fc.array(actionId, { minLength: 3, maxLength: 3 }),
  actions: fc.array(actionId, { minLength: 14, maxLength: 14 }),
});
const layout = fc.constantFrom<PromptLayout>('instr-image-instr', 'image-instr', 'instr-image');

test('labels: ignored up to and including the last colon, the ids after it: the actions and the end token', () => {
  fc.assert(fc.property(row, layout, (parts, lay) => {
    const cfg = { ...base, layout: lay };
    const ids = buildPromptIds(parts, cfg);
    const labels = maskLabels(ids, cfg);
    const colon = ids.lastIndexOf(cfg.colonTokenId);
    labels.forEach((l, i) => assert.equal(l, i <= colon ? -100 : ids[i]));
    assert.deepEqual(labels.filter((l) => l !== -100), [...parts.actions, cfg.endTokenId]);
    assert.equal(ids.filter((id) => id === -200).length, 1);
    const copies = lay === 'instr-image-instr' ? 2 : 1;
    assert.equal(ids.length, copies * parts.instruction.length + 1 + 3 + 2 + 14 + 1);
    // A generation prompt is the training row cut after the colon.
    assert.deepEqual(buildPromptIds({ instruction: parts.instruction, state: parts.state }, cfg), ids.slice(0, colon + 1));
  }));
});

test('collate and splice: padding is masked and unsupervised, image positions are unsupervised, rows keep their tokens', () => {
  const imageLen = 16;
  fc.assert(fc.property(fc.array(row, { minLength: 1, maxLength: 4 }), layout, (rows, lay) => {
    const cfg = { ...base, layout: lay };
    const idRows = rows.map((r) => buildPromptIds(r, cfg));
    const batch = collatePrompts(idRows, cfg);
    const plan = planSplice(batch, imageLen, cfg);
    assert.equal(plan.length, Math.max(...idRows.map((r) => r.length)) + imageLen - 1);
    idRows.forEach((ids, r) => {
      const boi = plan.boi[r]!;
      assert.equal(boi, ids.indexOf(-200));
      assert.equal(plan.rowLength[r], ids.length - 1 + imageLen);
      const L = plan.length;
      for (let i = 0; i < L; i++) {
        const m = plan.attentionMask[r * L + i]!, lab = plan.labels[r * L + i]!;
        if (i >= plan.rowLength[r]!) { assert.equal(m, 0); assert.equal(lab, -100); continue; }
        assert.equal(m, 1);
        if (i >= boi && i < boi + imageLen) assert.equal(lab, -100);
      }
      // Supervised labels survive the splice unchanged, in order.
      const want = maskLabels(ids, cfg).filter((l) => l !== -100);
      const got = Array.from(plan.labels.subarray(r * L, (r + 1) * L)).filter((l) => l !== -100);
      assert.deepEqual(got, want);
    });
    assert.equal(plan.textIds.length, idRows.reduce((s, r) => s + r.length - 1, 0));
  }));
});
