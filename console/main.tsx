import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { App } from './app';

/** The console's entry point (bundled by scripts/build-console.mjs into /console/assets/). */
const root = document.getElementById('app');
if (root !== null) render(<App />, root);
