/** `vipllava chat` end to end in a pseudo-terminal: multi-turn answers, images, Ctrl-C, commands. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ChatSession } from '../../src/generation/chat_session.js';
import { VipLlavaForConditionalGeneration } from '../../src/index.node.js';
import { VipLlavaProcessor } from '../../src/processor/processor.js';
import { ROOT, TINY_LLAMA } from '../helpers/fixtures.js';
import { image } from '../helpers/processor_goldens.js';
import { PtySession } from '../helpers/pty.js';

const CLI = `node ${join(ROOT, 'dist', 'src', 'cli', 'main.js')} chat --model ${TINY_LLAMA}`;

describe('vipllava chat', () => {
  test('answers several turns about an image, as a ChatSession does', async () => {
    const pty = new PtySession(`${CLI} --image ${image('demo.png')} --max-new-tokens 6`, ROOT);
    try {
      let at = await pty.waitFor(/\[1 image\] > $/);
      pty.type('What is inside the red box?\r');
      at = await pty.waitFor(/\n> $/, at);
      pty.type('/image ' + image('photo.jpg') + '\r');
      at = await pty.waitFor(/\[1 image\] > $/, at);
      pty.type('And in this one?\r');
      at = await pty.waitFor(/\n> $/, at);
      pty.type('\x04'); // Ctrl-D leaves
      assert.equal(await pty.exited, 0);

      // The same conversation in-process gives the same text.
      const model = await VipLlavaForConditionalGeneration.fromPretrained(TINY_LLAMA);
      const processor = await VipLlavaProcessor.fromPretrained(TINY_LLAMA);
      const chat = new ChatSession(model, processor);
      const opts = { maxNewTokens: 6, stopStrings: ['###'], tokenizer: processor.tokenizer };
      const first = await chat.ask({ text: 'What is inside the red box?', images: [image('demo.png')] }, opts);
      const second = await chat.ask({ text: 'And in this one?', images: [image('photo.jpg')] }, opts);
      const lines = pty.output.split(/\r?\n/).map((l) => l.trim());
      assert.ok(lines.includes(first.text.trim()), `first answer ${JSON.stringify(first.text)} in:\n${pty.output}`);
      assert.ok(lines.includes(second.text.trim()), `second answer ${JSON.stringify(second.text)}`);
    } finally {
      pty.kill();
    }
  });

  test('Ctrl-C cancels the answer being written and the conversation goes on; /reset and /exit', async () => {
    const pty = new PtySession(`${CLI} --image ${image('demo.png')} --max-new-tokens 3500 --engine reference --template llava_v1`, ROOT);
    try {
      let at = await pty.waitFor(/\[1 image\] > $/);
      pty.type('Describe everything.\r');
      at = await pty.waitFor(/Describe everything\.\s*\n[^\n]{20}/, at); // the answer is streaming
      pty.type('\x03');
      at = await pty.waitFor(/\[cancelled\]\s*\n> $/, at);
      pty.type('Go on.\r');
      at = await pty.waitFor(/Go on\.\s*\n[^\n]{10}/, at);
      pty.type('\x03');
      at = await pty.waitFor(/\[cancelled\]\s*\n> $/, at);
      pty.type('/reset\r');
      at = await pty.waitFor(/\(conversation cleared\)\s*\n> $/, at);
      pty.type('/exit\r');
      assert.equal(await pty.exited, 0);
    } finally {
      pty.kill();
    }
  });

  test('a bad image is reported on one line and the chat continues', async () => {
    const pty = new PtySession(CLI, ROOT);
    try {
      let at = await pty.waitFor(/\n> $/);
      pty.type('/image /no/such.png\r');
      at = await pty.waitFor(/\[1 image\] > $/, at);
      pty.type('hi\r');
      at = await pty.waitFor(/vipllava: \/no\/such\.png: cannot read image \(ENOENT\)\s*\n> $/, at);
      pty.type('hello again\r'); // the failed turn left no trace
      at = await pty.waitFor(/hello again\s*\n[^\n]*\S[^\n]*\n> $/, at);
      pty.type('\x03'); // Ctrl-C at an empty prompt leaves
      assert.equal(await pty.exited, 0);
    } finally {
      pty.kill();
    }
  });
});
