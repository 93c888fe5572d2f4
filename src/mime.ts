/**
 * The extension's output renderers, one per capability; nothing else happens here.
 */
import { diagnosticRenderer } from './diagnostic/mime';
import { liveRenderer } from './live/mime';
import { memoryRenderer } from './memory/mime';

export default [diagnosticRenderer, memoryRenderer, liveRenderer];
