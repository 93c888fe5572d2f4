/**
 * Outside JupyterLab (the CLI, the tests), the analyzer uses the @lezer/python package
 * itself. Import this module once before analysing.
 */
import { parser } from '@lezer/python';

import { usePythonParser } from '../core/lint/analyzer';

usePythonParser(parser);
