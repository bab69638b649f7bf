"""The words of the exercise checks, in English and Simplified Chinese: one catalogue, one entry per message.

A check builds every message it prints or raises with ``say(key, **fields)``; the fields fill the entry's
``str.format`` placeholders, which both languages share. The handouts choose the language once:
``set_language("zh")`` (the Chinese handouts in notebooks/zh/exercises/ do it in their first cells).
The entries of exercises 3-5 live in messages_training.py.
"""

from __future__ import annotations

from .messages_training import TRAINING_MESSAGES

__all__ = ["LANGUAGES", "MESSAGES", "set_language", "language", "say"]

LANGUAGES = ("en", "zh")
_current = {"language": "en"}

MESSAGES: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ shared (checks.py)
    "hint_label": {"en": "HINT: ", "zh": "提示："},
    "run.package": {
        "en": "{what} runs the package's own code ({owner}), not yours",
        "zh": "{what} 运行的是包里自带的代码（{owner}），不是你写的"},
    "run.package.hint": {
        "en": "write it yourself in the cell above: the package's version is what your code is compared with",
        "zh": "请在上面的单元格里自己写：包里的版本正是用来和你的代码对照的参考答案"},
    "run.not_cell": {
        "en": "{what} was not written in a cell of this notebook (it comes from exec, a file or another module)",
        "zh": "{what} 不是在这个 notebook 的单元格里写的（它来自 exec、某个文件或别的模块）"},
    "run.not_cell.hint": {
        "en": "write your answer in the exercise cell itself; code loaded from elsewhere is not graded",
        "zh": "请直接在练习单元格里写答案；从别处加载的代码不计分"},
    "guard.replaced": {
        "en": "the grading found library functions replaced after the checks were imported: {names}",
        "zh": "评分时发现检查导入之后有库函数被替换：{names}"},
    "guard.replaced.hint": {
        "en": "do not assign to attributes of torch, math, builtins or inception_nb; restart the kernel and run "
              "the notebook from the top",
        "zh": "不要给 torch、math、builtins 或 inception_nb 的属性赋值；重启内核，从头运行 notebook"},
    "grade.missing": {
        "en": "the notebook defines no {names}",
        "zh": "notebook 里没有定义 {names}"},
    "grade.missing.hint": {
        "en": "keep the names the exercise gives and run the notebook from top to bottom before you hand it in",
        "zh": "保留练习给出的名字，交作业前从头到尾运行一遍 notebook"},
    "run.not_written": {
        "en": "{what} is not written yet ({error}).",
        "zh": "{what} 还没有写（{error}）。"},
    "run.not_written.hint": {
        "en": "replace the `raise NotImplementedError(...)` lines in the cell above with your code, run that cell, "
              "then this one.",
        "zh": "把上面单元格里的 `raise NotImplementedError(...)` 换成你的代码，先运行那个单元格，再运行这一个。"},
    "run.raised": {
        "en": "{what} raised {error_type}: {error}",
        "zh": "{what} 抛出了 {error_type}：{error}"},
    "run.raised.hint": {
        "en": "the traceback above points at the line of your code that failed",
        "zh": "上面的 traceback 指出了你的代码中出错的那一行"},
    "copy.misaligned": {
        "en": "{what}: its layers do not line up with the reference's: your tensors have shapes {got}, "
              "the reference's {want}",
        "zh": "{what}：各层与参考实现对不上：你的张量形状是 {got}，参考实现的是 {want}"},
    "copy.misaligned.hint": {
        "en": "create the layers in __init__ in the order the task lists them",
        "zh": "在 __init__ 中按任务列出的顺序创建各层"},
    "number.ellipsis": {
        "en": "{what} is still `...`",
        "zh": "{what} 还是 `...`"},
    "number.ellipsis.hint": {
        "en": "replace `...` with your answer and run the cell again",
        "zh": "把 `...` 换成你的答案，再运行一次这个单元格"},
    "number.not_number": {
        "en": "{what} should be a number, got {value!r}",
        "zh": "{what} 应该是一个数，得到的却是 {value!r}"},
    "number.not_number.hint": {
        "en": "write a number or arithmetic such as 192 * 64 + 64",
        "zh": "写一个数，或者写成算式，例如 192 * 64 + 64"},
    "join.colon": {"en": "{first}: {second}", "zh": "{first}：{second}"},
    "hint.subclass": {"en": "subclass nn.Module", "zh": "让它继承 nn.Module"},
    # ------------------------------------------------------------------ exercise 1: the block
    "block.layout1": {
        "en": "branch1 is one unit: 1x1 conv to ch1x1, BatchNorm2d, ReLU",
        "zh": "branch1 是一个单元：输出 ch1x1 个通道的 1x1 卷积、BatchNorm2d、ReLU"},
    "block.layout2": {
        "en": "branch2 is a 1x1 unit to ch3x3red, then a 3x3 unit (padding=1) to ch3x3; a unit is conv, "
              "BatchNorm2d, ReLU",
        "zh": "branch2 先是输出 ch3x3red 个通道的 1x1 单元，再接输出 ch3x3 个通道的 3x3 单元（padding=1）；"
              "一个单元就是 卷积、BatchNorm2d、ReLU"},
    "block.layout3": {
        "en": "branch3 is a 1x1 unit to ch5x5red, then a 5x5 unit (padding=2) to ch5x5; a unit is conv, "
              "BatchNorm2d, ReLU",
        "zh": "branch3 先是输出 ch5x5red 个通道的 1x1 单元，再接输出 ch5x5 个通道的 5x5 单元（padding=2）；"
              "一个单元就是 卷积、BatchNorm2d、ReLU"},
    "block.layout4": {
        "en": "branch4 is nn.MaxPool2d(3, stride=1, padding=1), then a 1x1 unit (conv, BatchNorm2d, ReLU) to "
              "pool_proj",
        "zh": "branch4 先是 nn.MaxPool2d(3, stride=1, padding=1)，再接输出 pool_proj 个通道的 1x1 单元"
              "（卷积、BatchNorm2d、ReLU）"},
    "block.not_module": {
        "en": "calling the class returned {type_name}, not an nn.Module",
        "zh": "调用这个类返回的是 {type_name}，不是 nn.Module"},
    "block.missing_branches": {
        "en": "the block has no module attribute {names}",
        "zh": "模块没有名为 {names} 的子模块属性"},
    "block.missing_branches.hint": {
        "en": "name the branches self.branch1 ... self.branch4 (1x1, 3x3, 5x5, pool), each an nn.Sequential",
        "zh": "把四个分支命名为 self.branch1 ... self.branch4（1x1、3x3、5x5、池化），每个都是一个 nn.Sequential"},
    "block.bn_missing": {
        "en": "BatchNorm2d is missing: every conv is followed by BatchNorm2d(out_channels). {layout}",
        "zh": "缺了 BatchNorm2d：每个卷积后面都要接 BatchNorm2d(out_channels)。{layout}"},
    "block.param_count": {
        "en": "{name} has {count:,} parameters; for the row {row} it should have {want:,}",
        "zh": "{name} 有 {count:,} 个参数；对于表中这一行 {row}，应该是 {want:,} 个"},
    "block.branch_input": {
        "en": "{name} on a 2 x 12 x 6 x 6 input",
        "zh": "{name} 在 2 x 12 x 6 x 6 的输入上"},
    "block.size": {
        "en": "{name} turns a 6 x 6 input into {height} x {width}",
        "zh": "{name} 把 6 x 6 的输入变成了 {height} x {width}"},
    "block.size.hint": {
        "en": "pad so every branch keeps H x W: 3x3 conv padding=1, 5x5 conv padding=2, max pool stride=1 and "
              "padding=1",
        "zh": "加上填充，让每个分支保持高和宽不变：3x3 卷积 padding=1，5x5 卷积 "
              "padding=2，最大池化 stride=1、padding=1"},
    "block.forward": {"en": "the block's forward", "zh": "模块的 forward"},
    "block.forward.hint": {
        "en": "each branch works on its own, so look at how forward joins them: "
              "torch.cat([...the four branch outputs...], dim=1)",
        "zh": "每个分支单独运行都没问题，所以看看 forward 是怎么把它们拼起来的："
              "torch.cat([...四个分支的输出...], dim=1)"},
    "block.shape": {
        "en": "for an input of shape {shape} the block returned {got}, expected {want}",
        "zh": "输入形状为 {shape} 时，模块返回的是 {got}，应该是 {want}"},
    "block.shape.hint": {
        "en": "return torch.cat([...the four branch outputs...], dim=1): channels are dimension 1",
        "zh": "返回 torch.cat([...四个分支的输出...], dim=1)：通道是第 1 维"},
    "block.negative": {"en": "the output has negative values", "zh": "输出中有负值"},
    "block.negative.hint": {
        "en": "a ReLU is missing after the last BatchNorm of a branch",
        "zh": "某个分支最后一个 BatchNorm 之后缺了 ReLU"},
    "block.order": {
        "en": "the branches are concatenated in the order {order}",
        "zh": "各分支是按 {order} 的顺序拼接的"},
    "block.order.hint": {
        "en": "concatenate in the order branch1, branch2, branch3, branch4 (1x1, 3x3, 5x5, pool)",
        "zh": "按 branch1、branch2、branch3、branch4（1x1、3x3、5x5、池化）的顺序拼接"},
    "block.differs": {
        "en": "{name} computes something different from the reference with the same weights",
        "zh": "权重相同时，{name} 算出的结果与参考实现不同"},
    "block.differs.hint": {
        "en": "{layout}; check that no ReLU is missing in between and that the layers come in this order",
        "zh": "{layout}；检查中间有没有漏掉 ReLU，以及各层是否按这个顺序排列"},
    "block.build3a": {"en": "building inception (3a)", "zh": "构建 inception (3a)"},
    "block.ok": {
        "en": "{name} matches the reference block; inception (3a) built with it has {params:,} parameters",
        "zh": "{name} 与参考模块一致；用它构建的 inception (3a) 有 {params:,} 个参数"},
    # ------------------------------------------------------------------ exercise 2: arithmetic
    "arith.weights_only": {
        "en": "you counted the conv weights only: add one bias per filter and BatchNorm's 2 parameters per channel",
        "zh": "你只数了卷积的权重：每个卷积核还有一个偏置，BatchNorm 每个通道还有 2 个参数"},
    "arith.add_bn": {
        "en": "add BatchNorm's γ and β: 2 parameters per output channel of each conv",
        "zh": "加上 BatchNorm 的 γ 和 β：每个卷积的每个输出通道 2 个参数"},
    "arith.add_bias": {
        "en": "add the conv biases: one per filter",
        "zh": "加上卷积的偏置：每个卷积核一个"},
    "arith.buffers": {
        "en": "BatchNorm's running mean and variance are buffers, not parameters: count 2 per channel",
        "zh": "BatchNorm 的滑动均值和方差是缓冲区（buffer），不是参数：每个通道只算 2 个"},
    "arith.reduction_first": {
        "en": "this branch starts with its 1x1 reduction: count that conv too, and let the big conv read only "
              "the reduced channels",
        "zh": "这个分支以 1x1 卷积降维开头：这个卷积也要算上，而且后面的大卷积只读取降维后的通道"},
    "arith.one_position": {
        "en": "that is the cost of one output position: multiply by the 28 x 28 positions",
        "zh": "这只是一个输出位置的开销：还要乘以 28 x 28 个位置"},
    "arith.flops": {
        "en": "that counts FLOPs (2 per multiply-add): count each multiply-add once",
        "zh": "这算的是 FLOPs（每次乘加算 2 次运算）：每次乘加只算一次"},
    "arith.not_dict": {
        "en": "answers should be a dict, got {type_name}",
        "zh": "answers 应该是一个 dict，得到的却是 {type_name}"},
    "arith.not_dict.hint": {
        "en": "run the answers cell above first",
        "zh": "先运行上面填写答案的单元格"},
    "arith.missing": {"en": "answers has no {keys}", "zh": "answers 中缺少 {keys}"},
    "arith.missing.hint": {
        "en": "keep every key of the template and fill in its value",
        "zh": "保留模板中的每个键，只填写它的值"},
    "arith.count": {
        "en": "answers[{key!r}] should be {count} numbers, got {got!r}",
        "zh": "answers[{key!r}] 应该是 {count} 个数，得到的却是 {got!r}"},
    "arith.count.shape": {
        "en": "C, H, W of one image (no batch dimension)",
        "zh": "一张图片的 C、H、W（不含批量维度）"},
    "arith.count.branches": {"en": "one number per branch", "zh": "每个分支一个数"},
    "arith.wrong_list": {"en": "answers[{key!r}] = {got} is not right", "zh": "answers[{key!r}] = {got} 不对"},
    "arith.last_conv": {
        "en": "the reductions (#3x3 reduce, #5x5 reduce) only feed the 3x3 and 5x5 convs: a branch outputs the "
              "channels of its LAST conv",
        "zh": "降维（#3x3 reduce、#5x5 reduce）只是 3x3 和 5x5 卷积的输入：一个分支输出的是它 *最后一个* 卷积的通道数"},
    "arith.stack": {
        "en": "the output stacks the four branches' channels: #1x1 + #3x3 + #5x5 + pool proj",
        "zh": "输出是四个分支的通道拼在一起：#1x1 + #3x3 + #5x5 + pool proj"},
    "arith.keep28": {
        "en": "every branch keeps 28 x 28: the 3x3 conv pads by 1, the 5x5 by 2 and the 3x3 max pool (stride 1) by 1",
        "zh": "每个分支都保持 28 x 28：3x3 卷积填充 1，5x5 卷积填充 2，3x3 最大池化（步幅 1）填充 1"},
    "arith.wrong": {"en": "answers[{key!r}] = {value:,.0f} is not right", "zh": "answers[{key!r}] = {value:,.0f} 不对"},
    "arith.total_params": {
        "en": "add up the four branch counts (the max pool has no parameters)",
        "zh": "把四个分支的参数量加起来（最大池化没有参数）"},
    "arith.total_macs": {
        "en": "per conv: H_out x W_out x in x out x k x k multiply-adds; biases and BatchNorm are not counted",
        "zh": "每个卷积：H_out x W_out x in x out x k x k 次乘加；偏置和 BatchNorm 不计入"},
    "arith.naive_branch2": {
        "en": "without the reduction, branch2 is one 3x3 unit reading all 192 input channels: weights + biases + "
              "2 x 128 BatchNorm",
        "zh": "去掉降维后，branch2 就是一个读取全部 192 个输入通道的 3x3 单元：权重 + "
              "偏置 + 2 x 128 个 BatchNorm 参数"},
    "arith.default": {
        "en": "per conv: in x out x k x k weights + out biases; per BatchNorm: 2 x channels",
        "zh": "每个卷积：in x out x k x k 个权重 + out 个偏置；每个 BatchNorm：2 x 通道数"},
    "arith.ok": {
        "en": "all {count} answers match inception (3a): {channels} x 28 x 28, {params:,} parameters, "
              "{macs:,} multiply-adds",
        "zh": "{count} 个答案全部与 inception (3a) 相符：{channels} x 28 x 28，{params:,} 个参数，{macs:,} 次乘加"},
}
MESSAGES.update(TRAINING_MESSAGES)


def set_language(lang: str) -> None:
    """Make every check speak lang ("en" or "zh") from now on, in this Python session."""
    if lang not in LANGUAGES:
        raise ValueError(f"set_language({lang!r}): the checks speak {' and '.join(map(repr, LANGUAGES))}; "
                         "pass one of them")
    _current["language"] = lang


def language() -> str:
    """Return the language the checks speak now."""
    return _current["language"]


def say(key: str, /, **fields: object) -> str:
    """Return the catalogue's message key in the current language, its placeholders filled from fields."""
    return MESSAGES[key][_current["language"]].format(**fields)
